# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Odoo run as real processes, for what a test inside one Odoo process cannot
show: an install over a database of the legacy module, an upgrade from a
previous release, a process killed in the middle of an import, two processes
at once. tools/test.sh gives the environment (AOS_*): Odoo's source, its
Python, the configuration, the template database (Accounting alone) and the
database where the addon was just installed."""
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import threading
import io
from pathlib import Path

import psycopg2
import pytest

ROOT = Path(__file__).resolve().parent.parent
ADDON = "account_online_synchronization"
RESULT_MARK = "RESULT "
# The addon's releases, as the manifest named them, and the commit of each.
RELEASES = {
    "19.0.1.0.0": "9037f62",
    "19.0.1.1.0": "3fd06ed",
    "19.0.1.2.0": "daf0416",
    "19.0.1.3.0": "ad3e623",
}

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _env(name):
    value = os.environ.get(name)
    if not value:
        pytest.exit(f"{name} is not set: run the system tests through tools/test.sh --only system", returncode=2)
    return value


def query(database, sql, params=None):
    """Run ``sql`` in ``database`` (committed); the rows when it returns some."""
    with contextlib.closing(psycopg2.connect(dbname=database)) as connection:
        with connection, connection.cursor() as cr:
            cr.execute(sql, params)
            return cr.fetchall() if cr.description else None


class Odoo:
    """Odoo 19.0 as processes, on databases made for one test and dropped after it."""

    def __init__(self, tmp_path, name):
        self.src = Path(_env("AOS_ODOO_SRC"))
        self.python = _env("AOS_PYTHON")
        self.data_dir = Path(_env("AOS_DATA_DIR"))
        self.template_db = _env("AOS_TEMPLATE_DB")
        self.installed_db = _env("AOS_INSTALLED_DB")
        self.oca_addons = os.environ.get("AOS_OCA_ADDONS")
        self.prefix = _env("AOS_DB_PREFIX")
        self.log_dir = Path(os.environ.get("AOS_LOG_DIR") or tmp_path)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.tmp_path = tmp_path
        self.name = name
        self.databases = []
        self.processes = []
        self.running = []  # the shell processes, killed at the end if a failed test left them waiting
        self.config = self.write_config(ROOT)

    # Configuration -------------------------------------------------------

    def write_config(self, *addons, name="odoo.conf"):
        """An Odoo configuration whose addons path is Odoo's, then ``addons``."""
        paths = [self.src / "addons", self.src / "odoo" / "addons", *addons]
        path = self.tmp_path / name
        path.write_text(
            "[options]\n"
            f"addons_path = {','.join(str(p) for p in paths)}\n"
            f"data_dir = {self.data_dir}\n"
            "list_db = False\n"
            "http_interface = 127.0.0.1\n"
            # The tests' own emulators answer on 127.0.0.1; nothing else is reached.
            "max_cron_threads = 0\n"
        )
        return path

    def release(self, version):
        """A configuration whose addon is the one of release ``version``, taken
        from the repository's history."""
        commit = RELEASES[version]
        target = self.tmp_path / f"release-{version}"
        if not target.exists():
            try:
                archive = subprocess.run(
                    ["git", "-C", str(ROOT), "archive", "--format=tar", commit, ADDON],
                    check=True, capture_output=True,
                ).stdout
            except (OSError, subprocess.CalledProcessError) as error:
                pytest.fail(f"release {version} (commit {commit}) is not in this clone's history: "
                            f"clone the repository without --depth ({error})")
            target.mkdir()
            with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
                tar.extractall(target, filter="data")
        return self.write_config(target, name=f"odoo-{version}.conf")

    # Databases -----------------------------------------------------------

    def new_database(self, template=None):
        """A database of this test, copy of ``template`` (the installed
        database by default; ``"account"`` for Accounting alone)."""
        template = {None: self.installed_db, "account": self.template_db}.get(template, template)
        database = f"{self.prefix}_{self.name}_{len(self.databases)}"[:63]
        self.drop(database)
        subprocess.run(["createdb", "-T", template, database], check=True)
        if (self.data_dir / "filestore" / template).is_dir():
            shutil.copytree(self.data_dir / "filestore" / template, self.data_dir / "filestore" / database)
        self.databases.append(database)
        return database

    def drop(self, database):
        subprocess.run(["dropdb", "--if-exists", "--force", database], check=True,
                       env=dict(os.environ, PGOPTIONS="-c client_min_messages=warning"))
        shutil.rmtree(self.data_dir / "filestore" / database, ignore_errors=True)

    # Processes -----------------------------------------------------------

    def command(self, database, *args, config=None):
        return [self.python, str(self.src / "odoo-bin"), *args[:1], "-c", str(config or self.config),
                "-d", database, "--log-level=warn", *args[1:]]

    def run(self, database, *args, config=None, timeout=600):
        """``odoo-bin`` with ``args`` (e.g. ``"-u", ADDON, "--stop-after-init"``);
        its log, and a failure with the log's end when it fails."""
        return self._run_logged(database, self.command(database, "--no-http", *args, config=config), args, timeout)

    def run_command(self, database, name, *args, config=None, timeout=600):
        """``odoo-bin NAME`` (one of Odoo's commands, e.g. ``"neutralize"``)
        on ``database``, as ``run``."""
        return self._run_logged(database, self.command(database, name, *args, config=config), (name, *args), timeout)

    def _run_logged(self, database, command, args, timeout):
        log = self.log_dir / f"{database}-{len(self.processes)}.log"
        self.processes.append(log)
        with open(log, "w") as out:
            done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, timeout=timeout)
        text = log.read_text()
        if done.returncode:
            pytest.fail(f"odoo-bin {' '.join(args)} exited with {done.returncode}:\n{text[-4000:]}")
        return text

    def shell_process(self, database, code, config=None):
        """``odoo-bin shell`` running ``code`` (``env`` is the superuser's), as
        a process the test can wait for or kill."""
        log = self.log_dir / f"{database}-{len(self.processes)}.log"
        self.processes.append(log)
        out = open(log, "w")
        process = subprocess.Popen(
            self.command(database, "shell", "--no-http", config=config),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=out, cwd=ROOT, text=True,
        )
        process.log = log
        self.running.append(process)
        process.stdin.write(code)
        process.stdin.close()
        return process

    def shell(self, database, code, config=None, timeout=600):
        """Run ``code`` in ``odoo-bin shell``; what it printed after RESULT_MARK
        (``print(RESULT_MARK + json.dumps(...))``), parsed."""
        process = self.shell_process(database, code, config=config)
        timer = threading.Timer(timeout, process.kill)
        timer.start()
        try:
            out = process.stdout.read()
            process.wait()
        finally:
            timer.cancel()
        results = [json.loads(line[len(RESULT_MARK):]) for line in out.splitlines() if line.startswith(RESULT_MARK)]
        if process.returncode or "Traceback" in process.log.read_text():
            pytest.fail(f"odoo-bin shell failed ({process.returncode}):\n{out[-2000:]}\n"
                        f"{process.log.read_text()[-4000:]}")
        return results[-1] if results else None

    def close(self):
        for process in self.running:
            if process.poll() is None:
                process.kill()
                process.wait()
        for database in self.databases:
            self.drop(database)


@pytest.fixture
def odoo(tmp_path, request):
    instance = Odoo(tmp_path, request.node.name.split("[")[0].removeprefix("test_")[:30])
    yield instance
    instance.close()
