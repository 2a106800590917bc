"""phasebrush batch: every job over a small synthetic dataset through a real Dask
LocalCluster of 2 worker processes; outputs equal the single-item CLI / GUI paths,
a corrupt item gets an error row without stopping the run, a rerun skips all."""

from __future__ import annotations

import csv
import json
import warnings

import numpy as np
import pytest

from phasebrush.cli import main as cli
from phasebrush.cli.batch.items import collect_items
from phasebrush.core.io.signals import load_signal, save_signal
from phasebrush.core.signal import Signal

distributed = pytest.importorskip("distributed")

N_SPECTRA = 12
NV = "16"


def _spectrum(i: int, n: int = 768) -> Signal:
    x = 400.0 + np.arange(n) * 2.0
    peaks = [(700.0 + 60 * i, 10.0, 1.0), (1500.0, 25.0, 0.6), (1900.0 - 20 * i, 6.0, 0.4)]
    y = sum(h * np.exp(-0.5 * ((x - c) / w) ** 2) for c, w, h in peaks)
    y = y + 0.002 * np.random.default_rng(i).standard_normal(n)
    return Signal(y, dx=2.0, x0=400.0, unit="cm^-1", name=f"spec{i:02d}")


def _tone(i: int) -> Signal:
    t = np.arange(2000) / 8000.0
    return Signal(np.sin(2 * np.pi * (300 + 100 * i) * t) * np.hanning(t.size), dx=1 / 8000.0,
                  unit="s", name=f"take{i}")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("dataset")
    data, heat = root / "data", root / "heat"
    data.mkdir()
    heat.mkdir()
    rng = np.random.default_rng(7)
    for i in range(N_SPECTRA):
        save_signal(_spectrum(i), data / f"spec{i:02d}.csv")
        # one heatmap of another shape (and orientation convention is the file's)
        shape = (40, 90) if i == 3 else (24, 64)
        np.save(heat / f"spec{i:02d}.npy", rng.random(shape))
    for i in range(2):
        save_signal(_tone(i), data / f"take{i}.wav")
        np.save(heat / f"take{i}.npy", rng.random((24, 64)))
    (data / "corrupt.csv").write_bytes(b"not a spectrum,\x00\x01\x02\n")
    np.save(heat / "corrupt.npy", rng.random((24, 64)))
    bands = root / "bands.json"
    from phasebrush.core.tf.bands import Band, save_bands

    # bands are physical: cycles per cm^-1 for the spectra, Hz for the takes
    save_bands(bands, [Band(upper=np.array([[0.0, 0.06], [1e6, 0.06]]),
                            lower=np.array([[0.0, 0.004], [1e6, 0.004]]))])
    audio_bands = root / "audio_bands.json"
    save_bands(audio_bands, [Band(upper=np.array([[0.0, 1000.0], [10.0, 1000.0]]),
                                  lower=np.array([[0.0, 200.0], [10.0, 200.0]]))])
    manifest = root / "invert.csv"
    rows = ["signal,bands"] + [f"data/{p.name},{'audio_bands' if p.suffix == '.wav' else 'bands'}"
                               ".json" for p in sorted(data.iterdir())]
    manifest.write_text("\n".join(rows) + "\n")
    return {"root": root, "data": data, "heat": heat, "bands": bands, "manifest": manifest,
            "audio_bands": audio_bands}


@pytest.fixture(scope="module")
def cluster():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lc = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                      dashboard_address=None, silence_logs=40)
    try:
        yield lc.scheduler_address
    finally:
        lc.close()


def _records(out):
    with open(out / "results.csv", newline="") as fh:
        return {r["item"]: r for r in csv.DictReader(fh)}


def _run(argv) -> int:
    return cli.main(["batch", *map(str, argv), "-q"])


def _same(a, b, *, float32=False):
    """Equal but for rounding: Dask's workers run BLAS on one thread
    (OMP_NUM_THREADS=1), this process on several, so dot products round differently."""
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape
    scale = float(np.max(np.abs(b))) or 1.0
    np.testing.assert_allclose(a, b, rtol=0, atol=(1e-6 if float32 else 1e-10) * scale)


def _good(dataset):
    return [p for p in sorted(dataset["data"].iterdir()) if p.stem != "corrupt"]


def _check_corrupt_row_and_rerun(out, argv, n_items, corrupt="corrupt"):
    recs = _records(out)
    assert len(recs) == n_items
    bad = recs[corrupt]
    assert bad["status"] == "failed" and "corrupt.csv" in bad["message"] and bad["outputs"] == ""
    assert sum(r["status"] == "done" for r in recs.values()) == n_items - 1
    stamps = {p: p.stat().st_mtime_ns for p in out.iterdir() if p.name != "results.csv"
              and p.name != "results.json"}
    assert _run(argv) == 1                      # the corrupt item fails again
    again = _records(out)
    assert {k: r["status"] for k, r in again.items() if k != corrupt} == \
        {k: "skipped" for k in recs if k != corrupt}
    assert all(p.stat().st_mtime_ns == t for p, t in stamps.items())   # nothing rewritten


def test_images_equal_the_transform_cli_and_rerun_skips(dataset, cluster, tmp_path):
    out = tmp_path / "images"
    argv = ["images", dataset["data"], "--out", out, "--scheduler", cluster, "--kind", "ssq_cwt",
            "--nv", NV, "--formats", "npy,png"]
    assert _run(argv) == 1
    from PIL import Image

    from phasebrush.core.analysis.classifier_image import classifier_image
    from phasebrush.core.tf.transforms import TransformSpec, transform

    for src in _good(dataset):
        # the single-item path: phasebrush transform's NPZ, its ordinary rows, high first
        npz = tmp_path / f"{src.stem}.npz"
        assert cli.main(["transform", str(src), str(npz), "--kind", "ssq_cwt", "--nv", NV,
                         "-q"]) == 0
        with np.load(npz) as z:
            C = z["coefficients"]
        sig = load_signal(src)
        tfr = transform(sig, TransformSpec(kind="ssq_cwt", nv=int(NV)))
        np.testing.assert_array_equal(np.abs(C), np.abs(tfr.coefficients))
        img = np.load(out / f"{src.stem}.npy")
        assert img.dtype == np.float32
        _same(img, classifier_image(tfr).values, float32=True)
        _same(img, np.abs(C)[1:-1][::-1].astype(np.float32), float32=True)
        meta = json.loads((out / f"{src.stem}.json").read_text())
        assert meta["row_order"] == "high-first" and meta["shape"] == list(img.shape)
        f = np.array(meta["row_frequencies"])[:, 0]
        assert np.all(np.diff(f) < 0)        # row 0 = highest frequency
        assert len(meta["row_widths"]) == img.shape[0]
        png = np.asarray(Image.open(out / f"{src.stem}.png"))
        assert png.shape == img.shape and png.max() == 255
    _check_corrupt_row_and_rerun(out, argv, N_SPECTRA + 3)


@pytest.mark.parametrize("scales", ["log-piecewise", "log"])
def test_images_match_ssqueezepy_ssq_cwt_for_the_seed_call(tmp_path, scales):
    import ssqueezepy

    sig = _spectrum(5, n=1024)
    src = tmp_path / "s.csv"
    save_signal(sig, src)
    out = tmp_path / "out"
    assert _run(["images", src, "--out", out, "--workers", "1", "--kind", "ssq_cwt",
                 "--wavelet", "gmw", "--nv", "64", "--scales", scales]) == 0
    img = np.load(out / "s.npy")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # the seed's call in float64 (ssqueezepy's default float32 moves energy between
        # bins by rounding: 0.3 % relative L2 on this kind of input)
        Tx, *_ = ssqueezepy.ssq_cwt(load_signal(src).y,
                                    wavelet=ssqueezepy.Wavelet("gmw", dtype="float64"),
                                    nv=64, scales=scales, fs=1 / sig.dx)
    ref = np.abs(np.asarray(Tx))
    assert img.shape == ref.shape          # rows as ssqueezepy orders them: highest first
    np.testing.assert_allclose(img, ref, rtol=1e-6, atol=1e-6 * ref.max())


def test_attribute_equals_the_gui_computation(dataset, cluster, tmp_path):
    from phasebrush.core.analysis.attribution import (
        attribution_curve,
        heatmap_to_mask,
        smoothing_samples,
        threshold_mask,
    )
    from phasebrush.core.analysis.heatmap import load_heatmap
    from phasebrush.core.tf.inversion import invert
    from phasebrush.core.tf.transforms import TransformSpec, transform

    out = tmp_path / "attr"
    argv = ["attribute", dataset["data"], "--out", out, "--scheduler", cluster,
            "--heatmaps", dataset["heat"], "--threshold", "0.6", "--nv", NV]
    assert _run(argv) == 1
    for src in _good(dataset):
        # what HeatmapDialog.update_preview computes for this file and threshold
        tfr = transform(load_signal(src), TransformSpec(nv=int(NV)))
        heat = load_heatmap(dataset["heat"] / f"{src.stem}.npy")
        binary = threshold_mask(heatmap_to_mask(heat, tfr), 0.6)
        inverse = invert(tfr, binary)
        curve = attribution_curve(inverse, smooth_samples=smoothing_samples(tfr, binary))
        _same(np.load(out / f"{src.stem}.inverse.npy"), inverse)
        _same(np.load(out / f"{src.stem}.attribution.npy"), curve)
        table = np.loadtxt(out / f"{src.stem}.attribution.csv", delimiter=",", skiprows=1)
        _same(table[:, 3], curve)
        meta = json.loads((out / f"{src.stem}.json").read_text())
        assert meta["heatmap_shape"] == list(heat.shape)
    assert json.loads((out / "spec03.json").read_text())["heatmap_shape"] == [40, 90]
    _check_corrupt_row_and_rerun(out, argv, N_SPECTRA + 3)


def test_invert_equals_the_invert_cli(dataset, cluster, tmp_path):
    out = tmp_path / "inv"
    argv = ["invert", dataset["manifest"], "--out", out, "--scheduler", cluster, "--nv", NV]
    assert _run(argv) == 1
    for src in _good(dataset):
        ext = ".wav" if src.suffix == ".wav" else ".csv"
        bands = dataset["audio_bands"] if ext == ".wav" else dataset["bands"]
        band, res = tmp_path / f"b{ext}", tmp_path / f"r{ext}"
        assert cli.main(["invert", str(src), "--bands", str(bands), "--out",
                         str(band), "--residual", str(res), "--nv", NV, "-q"]) == 0
        # a manifest's items are named by their path below it
        for mine, theirs in ((out / f"data__{src.stem}.band{ext}", band),
                             (out / f"data__{src.stem}.residual{ext}", res)):
            _same(load_signal(mine).y, load_signal(theirs).y, float32=ext == ".wav")
    _check_corrupt_row_and_rerun(out, argv, N_SPECTRA + 3, corrupt="data__corrupt")


def test_retrieve_from_magnitudes_equals_the_retrieve_cli(dataset, cluster, tmp_path):
    mags = tmp_path / "mags"
    mags.mkdir()
    for i in range(3):
        assert cli.main(["transform", str(dataset["data"] / f"spec{i:02d}.csv"),
                         str(mags / f"spec{i:02d}.npz"), "--kind", "stft", "--n-fft", "64",
                         "--hop", "16", "-q"]) == 0
    out = tmp_path / "ret"
    argv = ["retrieve", mags, "--out", out, "--scheduler", cluster, "--method", "fgla",
            "--iters", "30", "--device", "cpu"]
    assert _run(argv) == 0
    recs = _records(out)
    for i in range(3):
        name = f"spec{i:02d}"
        one = tmp_path / f"{name}.npy"
        assert cli.main(["retrieve", str(mags / f"{name}.npz"), str(one), "--method", "fgla",
                         "--iters", "30", "--device", "cpu", "-q"]) == 0
        np.testing.assert_allclose(np.load(out / f"{name}.retrieved.npy"), np.load(one),
                                   rtol=1e-9, atol=1e-12)
        figures = json.loads(recs[name]["figures"])
        assert figures["iterations"] == 30 and figures["inconsistency"] < 1
    assert _run(argv) == 0
    assert {r["status"] for r in _records(out).values()} == {"skipped"}


@pytest.mark.parametrize("workers", ["cluster", "1"])
def test_grouped_retrieve_gives_each_item_what_it_gets_alone(dataset, cluster, tmp_path,
                                                             workers):
    # 4 magnitudes of one shape, 1 of another, 1 corrupt file, in groups of 3 a task
    mags = tmp_path / "mags"
    mags.mkdir()
    names = [f"spec{i:02d}" for i in range(4)] + ["take0"]
    for name in names:
        src = dataset["data"] / (name + (".wav" if name.startswith("take") else ".csv"))
        assert cli.main(["transform", str(src), str(mags / f"{name}.npz"), "--kind", "stft",
                         "--n-fft", "64", "--hop", "16", "-q"]) == 0
    (mags / "corrupt.npz").write_bytes(b"PK\x03\x04 not a zip")
    out = tmp_path / "ret"
    where = ["--scheduler", cluster] if workers == "cluster" else ["--workers", "1"]
    opts = ["--method", "raar:0.5+fgla", "--iters", "25", "--init", "random", "--device", "cpu"]
    argv = ["retrieve", mags, "--out", out, *where, *opts, "--batch-items", "3"]
    assert _run(argv) == 1                          # the corrupt item failed
    recs = _records(out)
    assert recs["corrupt"]["status"] == "failed" and "corrupt.npz" in recs["corrupt"]["message"]
    batched = 0
    for name in names:
        one = tmp_path / f"{name}.npy"
        assert cli.main(["retrieve", str(mags / f"{name}.npz"), str(one), *opts, "-q"]) == 0
        np.testing.assert_allclose(np.load(out / f"{name}.retrieved.npy"), np.load(one),
                                   rtol=0, atol=1e-9 * np.abs(np.load(one)).max())
        figures = json.loads(recs[name]["figures"])
        assert figures["iterations"] == 25
        batched += figures.get("batched", 1) > 1
    assert batched >= 2                   # some items really shared a tensor
    # grouping does not change the outputs: a rerun without it skips everything
    plain = ["retrieve", mags, "--out", out, *where, *opts]
    assert _run(plain) == 1
    assert {k: r["status"] for k, r in _records(out).items() if k != "corrupt"} == \
        {k: "skipped" for k in names}


def test_force_and_a_lost_record_redo_items_synchronously(dataset, tmp_path):
    out = tmp_path / "img"
    argv = ["images", dataset["data"], "--out", out, "--workers", "1", "--nv", "8",
            "--size", "32x16", "--scale", "db"]
    assert _run(argv) == 1
    assert np.load(out / "spec00.npy").shape == (16, 32)
    (out / "spec04.record.json").unlink()        # as if interrupted before its record
    assert _run(argv) == 1
    recs = _records(out)
    assert recs["spec04"]["status"] == "done" and recs["spec05"]["status"] == "skipped"
    assert _run([*argv, "--force"]) == 1
    assert {r["status"] for k, r in _records(out).items() if k != "corrupt"} == {"done"}
    # other options: nothing is complete for them
    assert _run([*argv[:-1], "linear"]) == 1
    assert _records(out)["spec00"]["status"] == "done"


def test_items_from_a_manifest_a_glob_and_clashing_names(tmp_path):
    (tmp_path / "a").mkdir()
    for name in ("a/x.csv", "a/x.wav", "y.csv"):
        (tmp_path / name).write_text("1\n2\n")
    manifest = tmp_path / "m.csv"
    manifest.write_text("signal,heatmap,id\na/x.csv,h.npy,first\ny.csv,,\n")
    items = collect_items(manifest)
    assert [i.id for i in items] == ["first", "y"]
    assert items[0].extra["heatmap"] == (tmp_path / "h.npy").resolve()
    assert "heatmap" not in items[1].extra
    items = collect_items(str(tmp_path / "a" / "*"))
    assert sorted(i.id for i in items) == ["x.csv", "x.wav"]
    assert [i.id for i in collect_items(str(tmp_path / "**" / "*.csv"))] == ["a__x", "m", "y"]


def test_bad_command_lines_fail_once_before_any_work(dataset, tmp_path, capsys):
    out = tmp_path / "o"
    assert cli.main(["batch", "invert", str(dataset["data"]), "--out", str(out)]) == 2
    assert "--bands" in capsys.readouterr().err and not out.exists()
    assert cli.main(["batch", "images", str(tmp_path / "nothing"), "--out", str(out)]) == 2
    assert "no such file" in capsys.readouterr().err
    assert cli.main(["batch", "images", str(dataset["data"]), "--out", str(out),
                     "--formats", "gif"]) == 2
    assert "--formats" in capsys.readouterr().err and not out.exists()
    assert cli.main(["batch", "images", str(dataset["data"]), "--out", str(out),
                     "--batch-items", "4"]) == 2
    assert "--batch-items is for batch retrieve" in capsys.readouterr().err
    assert cli.main(["batch", "retrieve", str(dataset["data"]), "--out", str(out),
                     "--batch-items", "0"]) == 2
    assert "--batch-items 0" in capsys.readouterr().err and not out.exists()


def test_batch_items_default_follows_the_device():
    import torch

    from phasebrush.cli.batch import command
    from phasebrush.cli.main import build_parser

    def group(job, *extra):
        args = build_parser().parse_args(["batch", job, "in", "--out", "o", *extra])
        return command._job(args).group

    gpu = command.GPU_BATCH_ITEMS
    assert group("retrieve", "--device", "cpu") == 1
    assert group("retrieve", "--device", "cuda") == gpu
    assert group("retrieve", "--device", "mps") == gpu
    assert group("retrieve", "--device", "cuda", "--batch-items", "3") == 3
    on_gpu = torch.cuda.is_available() or torch.backends.mps.is_available()
    assert group("retrieve") == (gpu if on_gpu else 1)        # auto: what this machine has
    assert group("images") == 1 and group("invert", "--device", "cuda") == 1
