"""`archsim sweep` end to end on the real simulator (a small model on the h100 baseline)."""

import pytest
import yaml

import archsim

from archsim.cli.main import main
from archsim.paths import ARCH_DIR
from archsim.sweep import to_dataframe

pytestmark = pytest.mark.skipif(not (ARCH_DIR / "h100.yaml").exists(), reason="needs the h100 baseline")


def sweep_file(tmp_path, **over):
    data = {"name": "tiny", "arch": "h100", "model": "gpt2-small",
            "scenario": {"input_len": 64, "output_len": 4},
            "axes": [{"set": "scenario.batch", "values": [1, 2]},
                     {"name": "mem", "cases": {"fast": {"gpu.memory_bandwidth": "3 TB/s"},
                                               "same": {"gpu.memory_bandwidth": "3000 GB/s"},
                                               "slow": {"gpu.memory_bandwidth": "1 TB/s", "gpu.stream_bandwidth": "0.9 TB/s"},
                                               "tiny": {"gpu.memory": "100 MB"}}}],
            "metrics": ["decode.tokens_per_s", "decode.energy_j_per_token", "breakdown.gpu.seconds"],
            **over}
    p = tmp_path / "tiny.yaml"
    p.write_text(yaml.safe_dump(data, sort_keys=False))
    return p


def test_dry_run_lists_points_and_merges_equal_configs(tmp_path, capsys):
    p = sweep_file(tmp_path)
    assert main(["sweep", str(p), "--dry-run", "--out", str(tmp_path / "o.h5")]) == 0
    out = capsys.readouterr().out
    # '3 TB/s' and '3000 GB/s' resolve to one config: one point, not two
    assert "6 points (2 duplicate(s) of listed points), 6 to run" in out
    assert out.count("to run") == 7 and "slow" in out and "same" not in out


def test_run_resume_and_plot(tmp_path, capsys):
    p = sweep_file(tmp_path)
    out = tmp_path / "o.h5"
    assert main(["sweep", str(p), "--out", str(out), "--workers", "2", "--no-progress"]) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith("sweep tiny done: 6 points: 4 ok, 2 skipped, 0 failed (0 from earlier runs)")
    df = to_dataframe(out)
    ok = df[df["status"] == "ok"]
    fast = ok[ok["mem"] == "fast"].set_index("scenario.batch")["decode.tokens_per_s"]
    slow = ok[ok["mem"] == "slow"].set_index("scenario.batch")["decode.tokens_per_s"]
    assert (fast > slow).all()
    assert df[df["mem"] == "tiny"]["error"].str.contains("does not fit").all()
    assert (ok["archsim_version"] == archsim.__version__).all() and ok["time"].str.endswith("+00:00").all()
    assert main(["sweep", str(p), "--out", str(out), "--no-progress"]) == 0
    assert "(6 from earlier runs); ran 0" in capsys.readouterr().out
    assert main(["sweep", str(p), "--dry-run", "--out", str(out)]) == 0
    assert "0 to run" in capsys.readouterr().out
    fig = tmp_path / "line.png"
    assert main(["plot", str(out), "--kind", "line", "--x", "scenario.batch", "--y", "decode.tokens_per_s",
                 "--hue", "mem", "--out", str(fig)]) == 0
    assert fig.stat().st_size > 1000


@pytest.mark.parametrize("over, words", [
    ({"axes": [{"set": "gpu.memory_bandwidth", "values": ["-1 TB/s"]}]}, "point 0 (gpu.memory_bandwidth='-1 TB/s')"),
    ({"arch": "no-such-gpu"}, "unknown arch 'no-such-gpu'"),
    ({"axes": [{"set": "gpu.memory_bandwith", "values": [1]}]}, "did you mean 'memory_bandwidth'"),
    ({"metrics": ["decode.tokens_per_s", "decode.tokens_per_s"]}, "listed twice"),
])
def test_bad_sweeps_exit_2_with_one_line(tmp_path, capsys, over, words):
    p = sweep_file(tmp_path, **over)
    assert main(["sweep", str(p), "--out", str(tmp_path / "o.h5"), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"archsim: error: {p}") and words in err and "\n" not in err, err


def test_bad_options_exit_2(tmp_path, capsys):
    p = sweep_file(tmp_path)
    assert main(["sweep", str(p), "--workers", "-1"]) == 2
    assert main(["sweep", str(p), "--executor", "local", "--scheduler", "tcp://127.0.0.1:1"]) == 2
    assert main(["sweep", str(tmp_path / "missing.yaml")]) == 2
    err = capsys.readouterr().err
    assert "non-negative number of workers" in err and "--scheduler is for --executor dask" in err
    assert "no such sweep file" in err


def test_retry_failed_reruns_the_failed_points_from_the_cli(tmp_path, capsys):
    p = sweep_file(tmp_path, constraints={"fits": "fail"})
    out = tmp_path / "o.h5"
    assert main(["sweep", str(p), "--out", str(out), "--workers", "0", "--no-progress"]) == 1
    capsys.readouterr()
    assert main(["sweep", str(p), "--dry-run", "--retry-failed", "--out", str(out)]) == 0
    assert "2 to run" in capsys.readouterr().out
    before = to_dataframe(out).set_index("point_id")["time"]
    assert main(["sweep", str(p), "--out", str(out), "--workers", "0", "--no-progress", "--retry-failed"]) == 1
    assert "ran 2" in capsys.readouterr().out
    after = to_dataframe(out).set_index("point_id")
    failed = after.index[after["status"] == "failed"]
    assert len(failed) == 2 and (after.loc[failed, "time"] != before[failed]).all()


def test_a_dry_run_refuses_a_file_of_another_sweep(tmp_path, capsys):
    out = tmp_path / "o.h5"
    assert main(["sweep", str(sweep_file(tmp_path)), "--out", str(out), "--workers", "0", "--no-progress",
                 "--limit", "1"]) == 0
    other = sweep_file(tmp_path, metrics=["decode.tokens_per_s"])
    capsys.readouterr()
    assert main(["sweep", str(other), "--dry-run", "--out", str(out)]) == 2
    assert "Use another --out" in capsys.readouterr().err


@pytest.mark.parametrize("sig,code", [("SIGINT", 130), ("SIGTERM", 143)])
def test_a_signalled_sweep_keeps_what_finished_and_exits_128_plus_the_signal(tmp_path, sig, code):
    import signal
    import subprocess
    import sys
    import time

    p = sweep_file(tmp_path, axes=[{"set": "scenario.batch", "range": {"start": 1, "stop": 400, "step": 1}}])
    out = tmp_path / "o.h5"
    proc = subprocess.Popen([sys.executable, "-m", "archsim.cli.main", "sweep", str(p), "--out", str(out),
                             "--workers", "1", "--no-progress"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    end = time.time() + 120
    while time.time() < end and proc.poll() is None:   # until some points are committed
        time.sleep(0.2)
        try:
            if out.exists() and len(to_dataframe(out)) > 0:
                break
        except OSError:     # caught between the writer's steps: look again
            pass
    proc.send_signal(getattr(signal, sig))
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == code, (proc.returncode, err.decode())
    rows = to_dataframe(out)
    assert 0 < len(rows) < 399 and rows["point_id"].is_unique
