"""The memory this process may use: cgroup v2 and v1 limits and MemAvailable, read from a fake tree."""

from __future__ import annotations

from pathlib import Path

from csv2h5.trainer.memory import available_memory

GIB = 1 << 30


def _tree(tmp_path: Path, *, cgroup: str, available_kib: int, files: dict[str, str]) -> tuple[Path, Path]:
    proc, root = tmp_path / "proc", tmp_path / "cgroup"
    (proc / "self").mkdir(parents=True)
    (proc / "self" / "cgroup").write_text(cgroup)
    (proc / "meminfo").write_text(
        f"MemTotal:       263000000 kB\nMemFree:        1000 kB\nMemAvailable:   {available_kib} kB\nBuffers:        10 kB\n"
    )
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return proc, root


def test_a_v2_pod_limit_wins_over_a_large_node(tmp_path):
    proc, root = _tree(
        tmp_path,
        cgroup="0::/kubepods/pod1/app\n",
        available_kib=250 * GIB // 1024,
        files={
            "cgroup.controllers": "cpu memory\n",
            "kubepods/memory.max": "max\n",
            "kubepods/pod1/memory.max": f"{8 * GIB}\n",
            "kubepods/pod1/app/memory.max": "max\n",
        },
    )
    found = available_memory(proc=proc, cgroup_root=root)
    assert found.bytes == 8 * GIB
    assert found.source == "cgroup v2 memory.max of /kubepods/pod1"


def test_a_v1_limit_and_its_ancestors(tmp_path):
    proc, root = _tree(
        tmp_path,
        cgroup="5:cpuacct,cpu:/\n4:memory:/jobs/train\n",
        available_kib=20 * GIB // 1024,
        files={
            "memory/memory.limit_in_bytes": "9223372036854771712\n",  # the root: no limit
            "memory/jobs/memory.limit_in_bytes": f"{3 * GIB}\n",
            "memory/jobs/train/memory.limit_in_bytes": f"{6 * GIB}\n",  # the parent's is smaller
        },
    )
    found = available_memory(proc=proc, cgroup_root=root)
    assert found.bytes == 3 * GIB and found.source == "cgroup v1 memory.limit_in_bytes of /jobs"


def test_a_v2_hybrid_mount_and_a_cgroup_namespace(tmp_path):
    """Hybrid hosts mount v2 under unified/; in a cgroup namespace the named path is not under the mount."""
    proc, root = _tree(
        tmp_path,
        cgroup="0::/not/visible/here\n",
        available_kib=20 * GIB // 1024,
        files={"unified/cgroup.controllers": "memory\n", "unified/memory.max": f"{2 * GIB}\n"},
    )
    assert available_memory(proc=proc, cgroup_root=root).bytes == 2 * GIB


def test_mem_available_when_smaller_or_without_limits(tmp_path):
    proc, root = _tree(
        tmp_path, cgroup="4:memory:/a\n", available_kib=1024 * 1024, files={"memory/a/memory.limit_in_bytes": f"{4 * GIB}\n"}
    )
    found = available_memory(proc=proc, cgroup_root=root)
    assert found.bytes == GIB and found.source == "MemAvailable"
    proc2, root2 = _tree(tmp_path / "b", cgroup="0::/\n", available_kib=5 * 1024 * 1024, files={})
    assert available_memory(proc=proc2, cgroup_root=root2).bytes == 5 * GIB
