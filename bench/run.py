"""venvrpm's benchmark: four reference apps built offline from a wheelhouse, against two floors
(virtualenv + pip install + tar; uv venv + uv pip install + nfpm) and rpmvenv. Prints medians,
CPU times, the load average and issue 21's targets; targets are checked and reported, never
asserted (timings belong here, not in tests).

    python bench/run.py [--runs 3] [--apps benchcli,benchservice,benchdata,benchzuul] [--work DIR]

Needs the network once, to fill the wheelhouse (``venvrpm fetch``) and install rpmvenv; then
every build is offline. Results: printed, and written to ``<work>/results.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
APPS = ("benchcli", "benchservice", "benchdata", "benchzuul")
ZUUL = "benchzuul"
"""The Zuul-sized app: zuul's own lock (~140 distributions)."""
PYTHON = "/usr/bin/python3.11"
LEVEL = 3  # venvrpm's default payload compression: zstd:3 with threads
COMPRESSIONS = ("zstd:3", "zstd:9", "zstd:19", "xz:6", "gzip:9")


@dataclass
class Run:
    seconds: float
    rss_mb: float
    cpu: float = 0.0
    """User + system seconds of it and its waited-for descendants: what a busy machine's
    wall time hides."""


@dataclass
class Result:
    runs: list[Run] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(r.seconds for r in self.runs)

    @property
    def peak_rss(self) -> float:
        return max(r.rss_mb for r in self.runs)


def timed(argv: Sequence[str], *, env: dict[str, str] | None = None, cwd: Path | None = None,
          log: Path | None = None, ok: Sequence[int] = (0,)) -> Run:  # fmt: skip
    """Run *argv*; wall time and peak RSS of it and every descendant it waited for."""
    out = log.open("ab") if log else subprocess.DEVNULL
    started = time.monotonic()
    proc = subprocess.Popen(list(argv), env=env, cwd=cwd, stdout=out, stderr=out)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.monotonic() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if log:
        out.close()  # type: ignore[union-attr]
    if proc.returncode not in ok:
        tail = log.read_text(errors="replace")[-3000:] if log else ""
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(argv)}\n{tail}")
    # ru_maxrss (KiB) of a waited-for child covers its own waited-for descendants (Linux).
    return Run(elapsed, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime)


class Bench:
    def __init__(self, work: Path, runs: int) -> None:
        self.work = work
        self.runs = runs
        self.wheelhouse = work / "wheelhouse"
        self.logs = work / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.venvrpm = [sys.executable, "-m", "venvrpm"]
        self.loads: list[float] = []
        """The load average (1 min) before each cold build: the machine may be shared."""

    def env(self, cache: Path | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
        env["VENVRPM_CACHE_DIR"] = str(cache or self.work / "cache-unused")
        env["CI"] = "true"
        env["SOURCE_DATE_EPOCH"] = "1700000000"
        return env

    def app(self, name: str, variant: str = "", extra: str = "") -> Path:
        """A fresh copy of the app whose manifest points at the shared wheelhouse."""
        dest = self.work / "apps" / (name + variant)
        shutil.rmtree(dest, ignore_errors=True)
        shutil.copytree(HERE / "apps" / name, dest)
        manifest = dest / "app.yaml"
        manifest.write_text(manifest.read_text() + f"wheelhouse: {self.wheelhouse}\n" + extra)
        return manifest

    def prepare(self, apps: Sequence[str]) -> None:
        """Fill the wheelhouse (network, once): the locks, and setuptools for the projects."""
        for name in apps:
            subprocess.run([*self.venvrpm, "fetch", str(self.app(name))], check=True,
                           env=self.env(), stdout=subprocess.DEVNULL)  # fmt: skip
        if not list(self.wheelhouse.glob("setuptools-*.whl")):
            subprocess.run([PYTHON, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
                            "-d", str(self.wheelhouse), "setuptools>=69"], check=True)  # fmt: skip

    def build(self, manifest: Path, out: Path, cache: Path | None, *extra: str) -> tuple[Run, dict]:  # type: ignore[type-arg]
        shutil.rmtree(out, ignore_errors=True)
        log = self.logs / f"{manifest.parent.name}.log"
        result = out / "result.json"
        out.mkdir(parents=True)
        run = timed(["sh", "-c", 'exec "$@" > "$0"', str(result), *self.venvrpm, "build",
                     str(manifest), "-o", str(out), "--json", *extra],
                    env=self.env(cache), log=log)  # fmt: skip
        return run, json.loads(result.read_text())

    def cold_and_warm(self, manifest: Path, tag: str) -> dict[str, object]:
        cold, warm = Result(), Result()
        document: dict = {}  # type: ignore[type-arg]
        module = next((manifest.parent / "src").glob("*/__init__.py"))
        original = module.read_text()
        for number in range(self.runs):
            cache = self.work / "cache" / f"{tag}-{number}"
            shutil.rmtree(cache, ignore_errors=True)
            module.write_text(original)
            self.loads.append(os.getloadavg()[0])
            run, document = self.build(manifest, self.work / "out" / tag, cache)
            cold.runs.append(run)
            # the app's own code changes; the lock does not
            module.write_text(original + f"\nBUILD = {number}\n")
            run, _ = self.build(manifest, self.work / "out" / tag, cache)
            warm.runs.append(run)
            shutil.rmtree(cache, ignore_errors=True)
        module.write_text(original)
        artifact = document["artifact"]
        return {"cold": cold.median, "warm": warm.median, "size": artifact["size"],
                "cold_cpu": statistics.median(r.cpu for r in cold.runs),
                "warm_cpu": statistics.median(r.cpu for r in warm.runs),
                "files": document["files"], "rss": max(cold.peak_rss, warm.peak_rss),
                "cold_runs": [r.seconds for r in cold.runs],
                "warm_runs": [r.seconds for r in warm.runs]}  # fmt: skip

    def floor(self, manifest: Path) -> dict[str, float]:
        """virtualenv + pip install of the same wheels and project + tar at the same level."""
        result = Result()
        app = manifest.parent
        for number in range(self.runs):
            scratch = self.work / "floor" / app.name
            shutil.rmtree(scratch, ignore_errors=True)
            scratch.mkdir(parents=True)
            venv = scratch / "venv"
            source = ["--no-index", "--find-links", str(self.wheelhouse)]
            script = [
                [sys.executable, "-m", "virtualenv", "-q", "-p", PYTHON, str(venv)],
                [str(venv / "bin" / "pip"), "install", "-q", *source, "--require-hashes",
                 "--no-deps", "-r", str(app / "requirements.txt")],
                [str(venv / "bin" / "pip"), "install", "-q", *source, "--no-deps", str(app)],
                ["tar", "-C", str(scratch), "--use-compress-program", f"zstd -{LEVEL} -T0",
                 "-cf", str(scratch / "venv.tar.zst"), "venv"],
            ]  # fmt: skip
            started = time.monotonic()
            peak = 0.0
            cpu = 0.0
            for argv in script:
                step = timed(argv, env=self.env(), log=self.logs / "floor.log")
                peak, cpu = max(peak, step.rss_mb), cpu + step.cpu
            result.runs.append(Run(time.monotonic() - started, peak, cpu))
            size = (scratch / "venv.tar.zst").stat().st_size
            shutil.rmtree(scratch, ignore_errors=True)
            del number
        return {"seconds": result.median, "size": size, "rss": result.peak_rss,
                "cpu": statistics.median(r.cpu for r in result.runs)}  # fmt: skip

    def uv_script(self, manifest: Path) -> dict[str, float] | None:
        """What a speed-minded user scripts instead (issue 21): ``uv venv`` + ``uv pip install
        --compile-bytecode --require-hashes --offline`` of the same wheelhouse and project, and
        nfpm packaging the tree into an RPM at the same compression. It relocates nothing,
        checks nothing and computes no Requires. uv's cache is empty on every run, like the
        cold builds' caches. None when uv or nfpm is missing (``tox -e bench`` installs both)."""
        uv, nfpm = find_uv(), find_nfpm()
        if uv is None or nfpm is None:
            return None
        app = manifest.parent
        name = app.name
        result = Result()
        size = 0
        for _ in range(self.runs):
            scratch = self.work / "uv-script" / name
            shutil.rmtree(scratch, ignore_errors=True)
            scratch.mkdir(parents=True)
            venv = scratch / "venv"
            python = str(venv / "bin" / "python")
            (scratch / "nfpm.yaml").write_text(
                f"name: {name}\nversion: 1.0.0\nrelease: 1\narch: amd64\n"
                f"contents:\n  - src: {venv}\n    dst: /opt/{name}\n    type: tree\n"
                f"rpm:\n  compression: zstd:{LEVEL}\n"
            )
            install = [uv, "pip", "install", "--python", python, "--no-config", "--quiet",
                       "--cache-dir", str(scratch / "uv-cache"), "--offline", "--no-index",
                       "--find-links", str(self.wheelhouse), "--compile-bytecode", "--no-deps"]  # fmt: skip
            script = [
                [uv, "venv", "--quiet", "--no-config", "--python", PYTHON, str(venv)],
                [*install, "--require-hashes", "-r", str(app / "requirements.txt")],
                [*install, str(app)],
                [nfpm, "package", "--config", str(scratch / "nfpm.yaml"), "--packager", "rpm",
                 "--target", str(scratch)],
            ]  # fmt: skip
            started = time.monotonic()
            runs = [timed(argv, env=self.env(), log=self.logs / "uv-script.log") for argv in script]
            result.runs.append(Run(time.monotonic() - started, max(r.rss_mb for r in runs),
                                   sum(r.cpu for r in runs)))  # fmt: skip
            (rpm,) = scratch.glob("*.rpm")
            size = rpm.stat().st_size
            shutil.rmtree(scratch, ignore_errors=True)
        return {"seconds": result.median, "size": size, "rss": result.peak_rss,
                "cpu": statistics.median(r.cpu for r in result.runs)}  # fmt: skip

    def rpmvenv(self, manifest: Path) -> dict[str, float] | None:
        """rpmvenv (from PyPI, in its own venv) on the same lock, wheelhouse and project."""
        script = HERE / "rpmvenv.sh"
        app = manifest.parent
        result = Result()
        size = 0
        for _ in range(self.runs):
            out = self.work / "rpmvenv-out" / app.name
            shutil.rmtree(out, ignore_errors=True)
            result.runs.append(timed(
                ["bash", str(script), app.name, "1.0.0", str(app), str(app / "requirements.txt"),
                 str(self.wheelhouse), str(out), str(self.work / "rpmvenv")],
                env=self.env(), log=self.logs / "rpmvenv.log",
            ))  # fmt: skip
            (rpm,) = out.glob("*.rpm")
            size = rpm.stat().st_size
        return {"seconds": result.median, "size": size, "rss": result.peak_rss}

    def startup(self) -> dict[str, float]:
        """``venvrpm --version``, and the seconds from a build's start to its first line on
        stderr (the build is then stopped with SIGTERM, as a cancelled CI job would): medians."""
        version = Result()
        first: list[float] = []
        manifest = self.app("benchcli", "-start")
        env = {**self.env(self.work / "cache" / "start"), "TERM": "dumb"}
        for _ in range(max(self.runs, 3)):
            version.runs.append(timed([*self.venvrpm, "--version"], env=env))
            started = time.monotonic()
            proc = subprocess.Popen([*self.venvrpm, "build", str(manifest), "-o",
                                     str(self.work / "out" / "start")], env=env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
            assert proc.stderr is not None
            proc.stderr.readline()
            first.append(time.monotonic() - started)
            proc.terminate()
            proc.communicate()
        shutil.rmtree(self.work / "cache" / "start", ignore_errors=True)
        return {"version": version.median,
                "version_cpu": statistics.median(r.cpu for r in version.runs),
                "first_step": statistics.median(first)}  # fmt: skip

    def fetch(self, name: str) -> dict[str, float]:
        """``venvrpm fetch`` of *name*'s lock into an empty wheelhouse (the network path warm:
        the shared wheelhouse was filled from the same index before)."""
        result = Result()
        for number in range(self.runs):
            wheels = self.work / "fetch-wheelhouse"
            shutil.rmtree(wheels, ignore_errors=True)
            manifest = self.app(name, "-fetch")
            manifest.write_text(manifest.read_text().replace(f"wheelhouse: {self.wheelhouse}",
                                                             f"wheelhouse: {wheels}"))  # fmt: skip
            result.runs.append(timed([*self.venvrpm, "fetch", str(manifest)], env=self.env(),
                                     log=self.logs / "fetch.log"))  # fmt: skip
            shutil.rmtree(wheels, ignore_errors=True)
            del number
        return {"seconds": result.median, "cpu": statistics.median(r.cpu for r in result.runs)}

    def compression_table(self, name: str) -> list[dict[str, object]]:
        """Warm builds (environment cached) of *name* at each compression setting."""
        rows = []
        cache = self.work / "cache" / "compression"
        shutil.rmtree(cache, ignore_errors=True)
        # the compression is not part of the environment's key: one cold build fills the cache
        self.build(self.app(name, "-c"), self.work / "out" / "compression", cache)
        for setting in COMPRESSIONS:
            manifest = self.app(name, "-c", f"rpm:\n  compression: '{setting}'\n")
            run, document = self.build(manifest, self.work / "out" / "compression", cache)
            rpmbuild = next(s["seconds"] for s in document["steps"] if "rpmbuild" in s["step"])
            rows.append({"setting": setting, "build": run.seconds, "rpmbuild": rpmbuild,
                         "size": document["artifact"]["size"]})  # fmt: skip
        shutil.rmtree(cache, ignore_errors=True)
        return rows

    def many_files(self, counts: Sequence[int]) -> list[dict[str, float]]:
        """A synthetic app with N small modules: time per 10k files must stay flat (linear)."""
        rows = []
        for count in counts:
            manifest = self.app("benchcli", f"-{count}")
            package = manifest.parent / "src" / "benchcli" / "generated"
            for index in range(count):
                folder = package / f"m{index // 500:03d}"
                if index % 500 == 0:
                    folder.mkdir(parents=True)
                    (folder / "__init__.py").write_text("")
                (folder / f"f{index:05d}.py").write_text(f"VALUE = {index}\n")
            cache = self.work / "cache" / f"files-{count}"
            shutil.rmtree(cache, ignore_errors=True)
            run, document = self.build(manifest, self.work / "out" / "files", cache)
            shutil.rmtree(cache, ignore_errors=True)
            rows.append({"files": document["files"], "seconds": run.seconds,
                         "per_10k": run.seconds / document["files"] * 10_000,
                         "rss": run.rss_mb})  # fmt: skip
        return rows


    def audit(self, database: Path, count: int) -> dict[str, object]:
        """``venvrpm audit`` of a *count*-distribution lock against the whole *database*, the
        whole command timed: start, load and index every record, match, write the report.
        Every name locked is one the database has records for (the worst case: each lookup
        hits), at version 1.0."""
        names = sorted(p.name for p in (database / "vulns").iterdir() if p.is_dir())[:count]
        app = self.work / "apps" / f"audit-{count}"
        shutil.rmtree(app, ignore_errors=True)
        app.mkdir(parents=True)
        (app / "requirements.lock").write_text(
            "".join(f"{n}==1.0 --hash=sha256:{'0' * 64}\n" for n in names)
        )
        (app / "app.yaml").write_text(
            "name: auditbench\nversion: 1.0.0\nrelease: 1\nsummary: s\nlicense: MIT\n"
            "python: /usr/bin/python3.11\nrequirements: requirements.lock\n"
        )
        result = Result()
        report = app / "audit.json"
        for _ in range(self.runs):
            result.runs.append(timed(
                ["sh", "-c", 'exec "$@" > "$0"', str(report), *self.venvrpm, "audit",
                 str(app / "app.yaml"), "--db", str(database), "--json"],
                env=self.env(), log=self.logs / "audit.log", ok=(0, 1),
            ))  # fmt: skip
        document = json.loads(report.read_text())
        return {"distributions": len(names), "records": document["database"]["records"],
                "findings": len(document["findings"]), "seconds": result.median,
                "cpu": statistics.median(r.cpu for r in result.runs),
                "load": os.getloadavg()[0],
                "runs": [r.seconds for r in result.runs], "rss": result.peak_rss}  # fmt: skip


def snapshot() -> Path | None:
    """../shared/advisory-db beside the checkout (or beside a worktree's parent)."""
    for base in (HERE.parents[1], HERE.parents[2]):
        if (base / "shared" / "advisory-db" / "vulns").is_dir():
            return base / "shared" / "advisory-db"
    return None


def find_uv() -> str | None:
    """uv's binary: the ``uv`` package's (venvrpm's uv extra), else one on PATH."""
    try:
        import uv  # type: ignore[import-not-found,unused-ignore]

        return str(uv.find_uv_bin())
    except (ImportError, FileNotFoundError):
        return shutil.which("uv")


def find_nfpm() -> str | None:
    """nfpm's binary: the ``nfpm`` package's (PyPI; ``tox -e bench`` installs it), or PATH."""
    beside = Path(sys.executable).parent / "nfpm"
    return str(beside) if beside.exists() else shutil.which("nfpm")


@dataclass
class Targets:
    """Issue 21's targets, each measured value against its limit, printed together."""

    rows: list[tuple[str, str, float, float, str, float | None]] = field(default_factory=list)

    def add(self, what: str, where: str, value: float, limit: float, unit: str = "x",
            cpu: float | None = None) -> None:  # fmt: skip
        """*cpu*: the same ratio or time by CPU (user + system), which a shared machine's load
        does not inflate as it does the wall time."""
        self.rows.append((what, where, value, limit, unit, cpu))

    def lines(self) -> list[str]:
        out = []
        for what, where, value, limit, unit, cpu in self.rows:
            sep = "" if unit == "x" else " "
            verdict = "met" if value <= limit else "NOT met"
            by_cpu = f"  (by CPU {cpu:.2f}{sep}{unit})" if cpu is not None else ""
            out.append(f"   {what:<34} {where:<13} {value:8.2f}{sep}{unit:<2}  target <= "
                       f"{limit:g}{sep}{unit:<2}  {verdict:<7}{by_cpu}".rstrip())  # fmt: skip
        return out


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "-"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--apps", default=",".join(APPS))
    parser.add_argument("--work", type=Path, default=Path("/var/tmp/venvrpm-bench"))
    parser.add_argument("--no-rpmvenv", action="store_true")
    parser.add_argument("--files", default="10000,50000", help="synthetic app sizes ('' skips)")
    parser.add_argument("--compression-app", default="benchdata", help="'' skips the table")
    parser.add_argument("--audit-db", type=Path, default=snapshot(),
                        help="OSV database for the audit timing (default: ../shared/advisory-db)")
    parser.add_argument("--audit-size", type=int, default=140, help="distributions in its lock; 0 skips")
    args = parser.parse_args(argv)
    apps = [a for a in args.apps.split(",") if a]
    bench = Bench(args.work.resolve(), args.runs)
    say: Callable[[str], None] = lambda text: print(text, flush=True)  # noqa: E731
    say(f"venvrpm benchmark: {len(apps)} apps, median of {args.runs} runs, work {bench.work}")
    if apps:
        bench.prepare(apps)
    results: dict[str, object] = {"runs": args.runs, "apps": {}}
    targets = Targets()
    say("== start-up")
    started = bench.startup()
    results["startup"] = started
    say(f"   venvrpm --version {started['version']:.2f}s (CPU {started['version_cpu']:.2f}s)"
        f"  first line of a build after {started['first_step']:.2f}s")
    targets.add("venvrpm --version", "", started["version"], 0.15, "s", started["version_cpu"])
    targets.add("a build's first step shown", "", started["first_step"], 0.3, "s")
    for name in apps:
        manifest = bench.app(name)
        say(f"== {name}")
        ours = bench.cold_and_warm(manifest, name)
        uv = bench.cold_and_warm(bench.app(name, "-uv", "build:\n  installer: uv\n"), name + "-uv")
        floor = bench.floor(manifest)
        script = bench.uv_script(manifest)
        theirs = None if args.no_rpmvenv or name == ZUUL else bench.rpmvenv(manifest)
        fetched = bench.fetch(name) if name == ZUUL else None
        results["apps"][name] = {"venvrpm": ours, "uv": uv, "floor": floor, "rpmvenv": theirs,  # type: ignore[index]
                                 "uv_script": script, "fetch": fetched}  # fmt: skip
        cold, warm = float(ours["cold"]), float(ours["warm"])  # type: ignore[arg-type]
        say(f"   venvrpm   cold {cold:6.1f}s  warm {warm:6.1f}s  size {int(ours['size']) / 1e6:6.1f} MB"  # type: ignore[call-overload]
            f"  files {ours['files']}  peak RSS {float(ours['rss']):.0f} MB")  # type: ignore[arg-type]
        say(f"   uv        cold {float(uv['cold']):6.1f}s  warm {float(uv['warm']):6.1f}s"  # type: ignore[arg-type]
            f"  size {int(uv['size']) / 1e6:6.1f} MB  files {uv['files']}")  # type: ignore[call-overload]
        say(f"   floor          {floor['seconds']:6.1f}s  (virtualenv + pip install + tar zstd -{LEVEL})"
            f"  size {floor['size'] / 1e6:6.1f} MB")
        if theirs:
            say(f"   rpmvenv        {theirs['seconds']:6.1f}s  size {theirs['size'] / 1e6:6.1f} MB"
                f"  peak RSS {theirs['rss']:.0f} MB")
        if script:
            say(f"   uv+nfpm        {script['seconds']:6.1f}s  (uv venv + uv pip install "
                f"--compile-bytecode + nfpm zstd:{LEVEL})  size {script['size'] / 1e6:6.1f} MB")
        if fetched:
            say(f"   fetch          {fetched['seconds']:6.1f}s  (CPU {fetched['cpu']:.1f}s; "
                "the lock into an empty wheelhouse)")
        uv_cold, uv_warm = float(uv["cold"]), float(uv["warm"])  # type: ignore[arg-type]
        say(f"   CPU       cold {float(ours['cold_cpu']):6.1f}s  warm {float(ours['warm_cpu']):6.1f}s"  # type: ignore[arg-type]
            f"  uv cold {float(uv['cold_cpu']):6.1f}s  floor {floor['cpu']:6.1f}s"  # type: ignore[arg-type]
            + (f"  uv+nfpm {script['cpu']:6.1f}s" if script else "")
            + f"  (load average {max(bench.loads[-2 * args.runs:]):.1f} at most)")
        say(f"   ratios    cold/floor {ratio(cold, floor['seconds'])}"
            f"  warm/cold {ratio(warm, cold)}"
            + (f"  cold/rpmvenv {ratio(cold, theirs['seconds'])} (target < 1)" if theirs else "")
            + f"  uv cold/pip cold {ratio(uv_cold, cold)}")
        cpu = {k: float(v) for k, v in (("cold", ours["cold_cpu"]), ("warm", ours["warm_cpu"]),
                                           ("uv_cold", uv["cold_cpu"]), ("uv_warm", uv["warm_cpu"]))}  # type: ignore[arg-type]  # fmt: skip
        if script:
            targets.add("uv cold / uv+nfpm script", name, uv_cold / script["seconds"], 1.2,
                        cpu=cpu["uv_cold"] / script["cpu"])  # fmt: skip
        targets.add("uv cold / floor", name, uv_cold / floor["seconds"], 0.5,
                    cpu=cpu["uv_cold"] / floor["cpu"])  # fmt: skip
        targets.add("pip cold / floor", name, cold / floor["seconds"], 0.9,
                    cpu=cpu["cold"] / floor["cpu"])  # fmt: skip
        targets.add("warm / cold", name, warm / cold, 0.12, cpu=cpu["warm"] / cpu["cold"])
        if name == "benchcli":
            targets.add("warm", name, warm, 1.0, "s", cpu["warm"])
        if name == ZUUL:
            targets.add("uv cold", name, uv_cold, 45.0, "s", cpu["uv_cold"])
            targets.add("uv warm", name, uv_warm, 10.0, "s", cpu["uv_warm"])
            if fetched:
                targets.add("fetch of the lock", name, fetched["seconds"], 30.0, "s",
                            fetched["cpu"])  # fmt: skip
        targets.add("peak RSS", name, float(ours["rss"]), 300.0, "MB")  # type: ignore[arg-type]
    if args.compression_app:
        say(f"== payload compression ({args.compression_app}, environment cached)")
        rows = bench.compression_table(args.compression_app)
        results["compression"] = rows
        for row in rows:
            say(f"   {row['setting']:<8} build {row['build']:6.1f}s  rpmbuild {row['rpmbuild']:6.1f}s"
                f"  size {int(row['size']) / 1e6:6.1f} MB")  # type: ignore[call-overload]
    if args.files:
        say("== many files (synthetic: benchcli + N one-line modules, cold)")
        rows = bench.many_files([int(n) for n in args.files.split(",")])
        results["many_files"] = rows
        for row in rows:
            say(f"   {int(row['files']):>6} files  {row['seconds']:6.1f}s"
                f"  {row['per_10k']:5.2f}s per 10k files  peak RSS {row['rss']:.0f} MB")
    if args.audit_size and args.audit_db:
        say(f"== audit ({args.audit_size}-distribution lock, whole database, the whole command)")
        row = bench.audit(args.audit_db.resolve(), args.audit_size)
        results["audit"] = row
        say(f"   {row['distributions']} distributions vs {row['records']} records: "
            f"{float(row['seconds']):5.2f}s (CPU {float(row['cpu']):4.2f}s, load average "  # type: ignore[arg-type]
            f"{float(row['load']):.1f})  ({row['findings']} findings)"  # type: ignore[arg-type]
            f"  peak RSS {float(row['rss']):.0f} MB"  # type: ignore[arg-type]
            f"  ratio to the target {ratio(float(row['seconds']), 2.0)} (target < 1: under 2 s)")  # type: ignore[arg-type]
    if args.files:
        # growth from the fewest files to the most: a step worse than linear shows above 1; a
        # build's fixed costs spread over more files show below it (max/min counted those too)
        rows = sorted(results["many_files"], key=lambda r: int(r["files"]))  # type: ignore[call-overload]
        growth = float(rows[-1]["per_10k"]) / float(rows[0]["per_10k"])
        targets.add("per 10k files, most / fewest files", "many files", growth, 1.1)
    say("== targets (issue 21; ratios from this run" + (f", load average up to {max(bench.loads):.1f}" if bench.loads else "") + ")")
    for line in targets.lines():
        say(line)
    if not any(r[1] == ZUUL for r in targets.rows):
        say(f"   (no Zuul-sized app in this run: --apps {','.join(APPS)})")
    results["targets"] = [dict(zip(("what", "app", "value", "limit", "unit", "cpu"), r, strict=True)) for r in targets.rows]
    (bench.work / "results.json").write_text(json.dumps(results, indent=2))
    say(f"results: {bench.work / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
