"""The Asterisk 22 test bed: a real Asterisk in a Debian sid chroot, driven over AMI."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import itertools
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from panoramisk import Manager

REPO = Path(__file__).resolve().parents[2]
TESTBED_DIR = Path(__file__).resolve().parent
SAMPLE_DIR = REPO / "asterisk"
BENCH_SIP_DIR = REPO / "bench" / "sip"
"""The SIP benchmark's endpoints and dialplan, included by the test bed (bench/sip/README.md)."""
PROVISION_SCRIPT = REPO / "scripts" / "provision-asterisk"
DEFAULT_ROOT = Path(os.environ.get("DID_FAILOVER_ASTERISK_ROOT", "/var/cache/did-failover/asterisk-sid"))

# Paths inside the chroot (see asterisk.conf).
ETC_DIR = "/etc/did-failover-test"
VAR_DIR = "/tmp/did-failover-test"
ASTERISK_CONF = f"{ETC_DIR}/asterisk.conf"

AMI_HOST = "127.0.0.1"
AMI_PORT = 15038
AMI_USER = "testbed"
AMI_SECRET = "testbed"
SIP_PORT = 15060
# The AGI URLs of the test bed's [globals]: the server under test listens here.
AGI_PORT = 14573
AGI_BACKUP_PORT = 14574


@dataclass(frozen=True)
class Instance:
    """One Asterisk of the test bed: its config and data folders in the chroot and its ports.
    Instance A (the constants above) is the one every routing test uses; B is a second Asterisk
    in the same chroot for the multi-node tests (two boxes behind one SBC), its config A's own
    with these folders and ports."""

    name: str
    etc_dir: str
    var_dir: str
    ami_port: int
    sip_port: int

    @property
    def asterisk_conf(self) -> str:
        return f"{self.etc_dir}/asterisk.conf"

    def renames(self) -> list[tuple[str, str]]:
        """What differs between A's config files and this instance's (nothing for A)."""
        if self == INSTANCE_A:
            return []
        return [
            (ETC_DIR, self.etc_dir),
            (VAR_DIR, self.var_dir),
            ("systemname = did-failover-test", f"systemname = did-failover-test-{self.name}"),
            (f"port = {AMI_PORT}", f"port = {self.ami_port}"),
            (f"127.0.0.1:{SIP_PORT}", f"127.0.0.1:{self.sip_port}"),
        ]


INSTANCE_A = Instance("a", ETC_DIR, VAR_DIR, AMI_PORT, SIP_PORT)
INSTANCE_B = Instance("b", f"{ETC_DIR}-b", f"{VAR_DIR}-b", AMI_PORT + 1, SIP_PORT + 1)


def sample_substitutions(sip_port: int = SIP_PORT) -> list[tuple[str, str, str, str]]:
    """The only places where the test bed's copy of a sample differs from asterisk/*.conf.
    Each entry: (file, text in the sample, replacement, why). Every text must occur exactly
    once, so a changed sample fails loudly instead of silently testing something else."""
    return [
        (
            "pjsip.conf",
            "bind = 0.0.0.0:5060",
            f"bind = 127.0.0.1:{sip_port}",
            "SIP on loopback and a port no real Asterisk on the machine uses",
        ),
        (
            "pjsip.conf",
            "contact = sip:203.0.113.10:5060",
            f"contact = sip:127.0.0.1:{sip_port}",
            "the pstn trunk leads back into this Asterisk ([testbed-far-end])",
        ),
    ]


SAMPLE_SUBSTITUTIONS = sample_substitutions()
# extensions.conf and manager.conf override the sample from the test bed's own files
# (a later [globals], [general](+)); see the comments there.

_ids = itertools.count(1)


class TestbedError(RuntimeError):
    """The Asterisk test bed could not be provisioned, started or reached."""

    __test__ = False


def _pids_of_testbed_asterisk(root: Path, asterisk_conf: str = ASTERISK_CONF) -> list[int]:
    """Return the pids of Asterisk processes running one test-bed instance's config in `root`."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            proc_root = os.readlink(entry / "root")
        except OSError:
            continue
        if (
            Path(proc_root) == root
            and cmdline
            and cmdline[0].endswith(b"asterisk")
            and asterisk_conf.encode() in cmdline
            and b"-r" not in cmdline
            and b"-rx" not in cmdline
        ):
            pids.append(int(entry.name))
    return pids


def _port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


class AsteriskTestbed:
    """A real Asterisk 22 in the provisioned chroot, running the test bed's configs."""

    __test__ = False

    def __init__(self, root: Path = DEFAULT_ROOT, instance: Instance = INSTANCE_A) -> None:
        self.root = root
        self.instance = instance
        self.process: subprocess.Popen[bytes] | None = None
        self._mounted: list[Path] = []
        self._lock: int | None = None

    # -- paths -----------------------------------------------------------------

    def host_path(self, chroot_path: str) -> Path:
        """Map a path inside the chroot to the host."""
        return self.root / chroot_path.lstrip("/")

    @property
    def log_path(self) -> Path:
        """The test bed's messages.log (verbose 3), on the host."""
        return self.host_path(f"{self.instance.var_dir}/log/messages.log")

    def log_tail(self, lines: int = 60) -> str:
        """The end of messages.log, for failure messages."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no messages.log)"
        return "\n".join(text.splitlines()[-lines:])

    # -- lifecycle -------------------------------------------------------------

    def provision(self) -> None:
        """Create the chroot with scripts/provision-asterisk unless Asterisk is in it."""
        if (self.root / "usr/sbin/asterisk").exists():
            return
        env = dict(os.environ, DID_FAILOVER_ASTERISK_ROOT=str(self.root))
        result = subprocess.run([str(PROVISION_SCRIPT)], env=env, capture_output=True, text=True, check=False)
        if result.returncode != 0 or not (self.root / "usr/sbin/asterisk").exists():
            raise TestbedError(
                f"provisioning the Asterisk chroot {self.root} failed "
                f"(exit {result.returncode}):\n{result.stdout}\n{result.stderr}"
            )

    def mount(self) -> None:
        """Bind-mount /dev and mount /proc into the chroot, unless already mounted.
        `stop()` unmounts what this call mounted: a /dev left bind-mounted in a directory
        under /var/cache is one `rm -rf` away from emptying the host's /dev."""
        for target, command in (
            ("proc", ["mount", "-t", "proc", "proc"]),
            ("dev", ["mount", "--bind", "/dev"]),
        ):
            path = self.root / target
            path.mkdir(exist_ok=True)
            if subprocess.run(["mountpoint", "-q", str(path)], check=False).returncode == 0:
                continue
            result = subprocess.run([*command, str(path)], capture_output=True, text=True, check=False)
            if result.returncode != 0:
                raise TestbedError(f"mounting {path} failed: {result.stderr.strip()}")
            self._mounted.append(path)

    def unmount(self) -> None:
        """Undo what `mount()` mounted (lazily, should something still hold it)."""
        while self._mounted:
            path = self._mounted.pop()
            if subprocess.run(["umount", str(path)], check=False).returncode != 0:
                subprocess.run(["umount", "-l", str(path)], check=False)

    def install_configs(self) -> None:
        """Copy the test bed's configs and the samples (with SAMPLE_SUBSTITUTIONS) in."""
        etc = self.host_path(self.instance.etc_dir)
        shutil.rmtree(etc, ignore_errors=True)
        (etc / "sample").mkdir(parents=True)
        (etc / "bench").mkdir()
        renames = self.instance.renames()

        def install(text: str, target: Path) -> None:
            for old, new in renames:
                text = text.replace(old, new)
            target.write_text(text)

        for conf in TESTBED_DIR.glob("*.conf"):
            install(conf.read_text(), etc / conf.name)
        for conf in BENCH_SIP_DIR.glob("*.conf"):
            install(conf.read_text(), etc / "bench" / conf.name)
        for conf in SAMPLE_DIR.glob("*.conf"):
            text = conf.read_text()
            for name, old, new, _why in sample_substitutions(self.instance.sip_port):
                if name != conf.name:
                    continue
                if text.count(old) != 1:
                    raise TestbedError(f"asterisk/{name} no longer contains {old!r} once")
                text = text.replace(old, new)
            install(text, etc / "sample" / conf.name)
        var = self.host_path(self.instance.var_dir)
        shutil.rmtree(var, ignore_errors=True)
        for sub in ("cache", "lib", "spool", "run", "log"):
            (var / sub).mkdir(parents=True)

    def kill_stale(self) -> None:
        """Stop test-bed Asterisks left running by an earlier, interrupted run."""
        pids = _pids_of_testbed_asterisk(self.root, self.instance.asterisk_conf)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while pids and time.monotonic() < deadline:
            pids = [pid for pid in pids if Path(f"/proc/{pid}").exists()]
            time.sleep(0.1)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def lock(self, timeout: float = 600.0) -> None:
        """Take the machine-wide test-bed lock (ports and chroot paths are fixed), waiting
        while another live test session holds it. The kernel drops the lock of a session
        that died, so whatever it left running is stale and `kill_stale` may stop it."""
        if self._lock is not None:
            return
        suffix = "" if self.instance is INSTANCE_A else f".{self.instance.name}"
        path = self.root.parent / f"{self.root.name}{suffix}.testbed.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    os.close(fd)
                    raise TestbedError(f"another test session holds {path}") from None
                time.sleep(0.5)
        self._lock = fd

    def unlock(self) -> None:
        """Release the test-bed lock."""
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None

    def start(self, timeout: float = 30.0) -> None:
        """Provision if needed, then start Asterisk and wait until AMI is fully booted."""
        if os.geteuid() != 0:
            raise TestbedError("the Asterisk test bed needs root (chroot, mount)")
        self.provision()
        self.lock()
        self.mount()
        self.kill_stale()
        if _port_open(AMI_HOST, self.instance.ami_port):
            raise TestbedError(f"something else already listens on {AMI_HOST}:{self.instance.ami_port}")
        self.install_configs()
        stdout = self.host_path(f"{self.instance.var_dir}/log/stdout.log").open("wb")
        # -f: foreground, no console; -n: no colours. chroot execs asterisk, so the pid is
        # Asterisk's own.
        self.process = subprocess.Popen(
            ["chroot", str(self.root), "asterisk", "-C", self.instance.asterisk_conf, "-f", "-n"],
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        stdout.close()
        try:
            self._wait_fully_booted(timeout)
        except TestbedError:
            self.stop()
            raise

    def _wait_fully_booted(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last_error = "no answer"
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise TestbedError(f"Asterisk exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                if _ami_fully_booted(self.instance.ami_port):
                    return
            except OSError as exc:
                last_error = str(exc)
            time.sleep(0.2)
        raise TestbedError(f"AMI did not come up in {timeout} s ({last_error}):\n{self.log_tail()}")

    def stop(self) -> None:
        """Stop Asterisk (SIGTERM, then SIGKILL after 10 s)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        self.kill_stale()

    def shutdown(self) -> None:
        """Stop Asterisk, unmount /proc and /dev from the chroot, release the lock."""
        try:
            self.stop()
            self.unmount()
        finally:
            self.unlock()

    def restart(self) -> None:
        """Stop and start again with freshly installed configs (the mounts stay)."""
        self.stop()
        self.start()

    def cli(self, command: str) -> str:
        """Run one CLI command in the running Asterisk (`asterisk -rx`) and return its output."""
        result = subprocess.run(
            ["chroot", str(self.root), "asterisk", "-C", self.instance.asterisk_conf, "-rx", command],
            capture_output=True,
            text=True,
            timeout=15,
            check=False,
        )
        if result.returncode != 0:
            raise TestbedError(f"asterisk -rx {command!r} failed: {result.stderr.strip()}")
        return result.stdout

    @contextlib.asynccontextmanager
    async def ami(self, *, clean_up: bool = True) -> AsyncIterator[Ami]:
        """Connect a logged-in AMI client (user `testbed`) that records every event.
        On exit with `clean_up`, hang up every call still up and restore the globals
        changed with `set_global`, so that the next test starts from a quiet Asterisk."""
        client = Ami(port=self.instance.ami_port)
        await client.connect()
        try:
            yield client
        finally:
            try:
                if clean_up:
                    await client.clean_up()
            finally:
                client.close()


def _ami_fully_booted(port: int = AMI_PORT) -> bool:
    """Log in over a plain socket and tell whether Asterisk says FullyBooted."""
    with socket.create_connection((AMI_HOST, port), timeout=2) as sock:
        sock.settimeout(2)
        data = b""
        sock.sendall(
            f"Action: Login\r\nUsername: {AMI_USER}\r\nSecret: {AMI_SECRET}\r\n"
            "Events: system\r\n\r\n".encode()
        )
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(4096)
            except TimeoutError:
                break
            if not chunk:
                break
            data += chunk
            if b"Event: FullyBooted" in data:
                return True
            if b"Response: Error" in data:
                raise TestbedError(f"AMI login refused: {data.decode(errors='replace')}")
        return False


# -- AMI client -------------------------------------------------------------------


Event = Mapping[str, str]
"""An AMI event: header names are case-insensitive (`event["callerid"]`)."""


@dataclass
class Call:
    """A call placed by the tests: `uniqueid` is the caller's side (Local ;1) and
    `channel_uniqueid` the side that runs the dialplan (Local ;2, the AGI channel)."""

    exten: str
    context: str
    caller: str
    uniqueid: str
    channel_uniqueid: str


@dataclass
class CallOutcome:
    """How the dialplan side of a call ended: the DID_FAILOVER_* variables it had set,
    AGISTATUS, and the hang-up cause of that channel."""

    result: str
    leg: str
    dialstatus: str
    agistatus: str
    hangup_cause: str
    variables: dict[str, str] = field(default_factory=dict)


class Ami:
    """A panoramisk AMI client that keeps every event it receives, for waiting on them."""

    def __init__(self, username: str = AMI_USER, secret: str = AMI_SECRET, port: int = AMI_PORT) -> None:
        self.events: list[Event] = []
        self._waiters: list[asyncio.Future[None]] = []
        self._saved_globals: dict[str, str] = {}
        self.manager = Manager(
            host=AMI_HOST,
            port=port,
            username=username,
            secret=secret,
            ping_delay=30,
            ping_interval=30,
            reconnect_timeout=1,
        )
        self.manager.register_event("*", self._record)

    async def connect(self, timeout: float = 5.0) -> None:
        """Connect and log in; raise TestbedError when the login does not succeed."""
        await self.manager.connect()
        deadline = time.monotonic() + timeout
        while not self.manager.authenticated:
            if time.monotonic() > deadline:
                self.close()
                raise TestbedError("AMI login failed or timed out")
            await asyncio.sleep(0.02)

    def close(self) -> None:
        """Disconnect for good (panoramisk would otherwise reconnect)."""
        self.manager.connection_lost = lambda exc: None
        self.manager.close()

    def _record(self, _manager: Manager, event: Event) -> None:
        self.events.append(event)
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    # -- actions -----------------------------------------------------------------

    async def action(self, name: str, **headers: Any) -> Event:
        """Send an action and return its (first) response; raise TestbedError when it failed."""
        # as_list=False: return on the first response. Otherwise panoramisk holds an async
        # Originate until its OriginateResponse, i.e. until the call is answered or fails.
        response: Event = await self.manager.send_action({"Action": name, **headers}, as_list=False)
        if response.get("Response") == "Error":
            raise TestbedError(f"AMI {name} failed: {response.get('Message')}")
        return response

    async def command(self, command: str) -> str:
        """Run a CLI command and return its output."""
        response = await self.action("Command", Command=command)
        output = response.get("Output", "")
        return "\n".join(output) if isinstance(output, list) else str(output)

    async def get_global(self, name: str) -> str:
        """The value of a dialplan global variable ("" when unset)."""
        response = await self.action("Getvar", Variable=name)
        return str(response.get("Value", ""))

    async def set_global(self, name: str, value: str) -> None:
        """Set a dialplan global variable (e.g. DID_FAILOVER_AGI); `clean_up` restores it."""
        if name not in self._saved_globals:
            self._saved_globals[name] = await self.get_global(name)
        await self.action("Setvar", Variable=name, Value=value)

    async def clean_up(self) -> None:
        """Hang up every channel and restore the globals changed with `set_global`."""
        await self.command("channel request hangup all")
        for name, value in self._saved_globals.items():
            await self.action("Setvar", Variable=name, Value=value)
        self._saved_globals.clear()

    async def originate(
        self,
        did: str,
        caller: str,
        *,
        caller_name: str = "",
        context: str = "from-pstn",
        variables: Mapping[str, str] | None = None,
        talks: bool = False,
    ) -> Call:
        """Place an inbound call to extension `did` of `context` (from-pstn: the sample's
        inbound context, which runs the AGI) with caller ID `caller`; returns at once.
        A caller that `talks` sends a tone once answered (a voicemail message records it)."""
        caller_exten = "tone" if talks else "s"
        return await self._originate(did, context, caller, caller_name, variables or {}, caller_exten)

    async def dial(
        self,
        target: str,
        caller: str,
        *,
        timeout: int = 2,
        diversion: str = "",
        variables: Mapping[str, str] | None = None,
    ) -> Call:
        """Run a plain Dial(target,timeout) in [testbed-dial] (no server involved); it
        reports UserEvent DialResult. With `diversion` (a DID) the leg carries
        REDIRECTING from-num=DID, reason user-busy, count 1."""
        extra = {"TESTBED_DIAL": target, "TESTBED_TIMEOUT": str(timeout)}
        if diversion:
            extra["TESTBED_DIVERSION"] = diversion
        return await self._originate("s", "testbed-dial", caller, "", {**extra, **(variables or {})})

    async def _originate(
        self,
        exten: str,
        context: str,
        caller: str,
        caller_name: str,
        variables: Mapping[str, str],
        caller_exten: str = "s",
    ) -> Call:
        token = f"testbed-{next(_ids)}-{uuid.uuid4().hex[:12]}"
        call = Call(exten, context, caller, f"{token}-caller", f"{token}-dialplan")
        callerid = f'"{caller_name}" <{caller}>' if caller_name else caller
        headers: dict[str, Any] = {
            # /n: never optimise the Local channel away, so that the ;2 side (the one
            # running the AGI) keeps its channel and uniqueid for the whole call.
            "Channel": f"Local/{exten}@{context}/n",
            "Context": "test-caller",
            "Exten": caller_exten,
            "Priority": "1",
            "CallerID": callerid,
            "Timeout": "60000",
            "Async": "true",
            "ChannelId": call.uniqueid,
            "OtherChannelId": call.channel_uniqueid,
        }
        if variables:
            headers["Variable"] = [f"{name}={value}" for name, value in variables.items()]
        await self.action("Originate", **headers)
        return call

    async def hangup(self, call: Call, cause: int = 16) -> None:
        """Hang up the caller's side of `call` (the caller gives up)."""
        new = await self.wait_for("Newchannel", Uniqueid=call.uniqueid)
        await self.action("Hangup", Channel=new["Channel"], Cause=str(cause))

    # -- events ------------------------------------------------------------------

    def matching(
        self, event: str, where: Callable[[Event], bool] | None = None, **fields: str
    ) -> list[Event]:
        """The events received so far named `event` whose headers equal `fields`
        (names case-insensitive, values exact) and that satisfy `where`."""
        found = []
        for candidate in self.events:
            if candidate.get("Event", "").lower() != event.lower():
                continue
            if any(candidate.get(name) != value for name, value in fields.items()):
                continue
            if where is None or where(candidate):
                found.append(candidate)
        return found

    async def wait_for(
        self,
        event: str,
        *,
        timeout: float = 10.0,
        where: Callable[[Event], bool] | None = None,
        **fields: str,
    ) -> Event:
        """The first event (received earlier or within `timeout` s) that `matching`
        accepts; raise TimeoutError naming the wanted event otherwise."""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    found = self.matching(event, where, **fields)
                    if found:
                        return found[0]
                    waiter = asyncio.get_running_loop().create_future()
                    self._waiters.append(waiter)
                    await waiter
        except TimeoutError:
            raise TimeoutError(f"no {event} event with {fields} within {timeout} s") from None

    async def wait_dest_reached(self, *, timeout: float = 10.0, **fields: str) -> Event:
        """Wait for UserEvent DestReached (a [testbed-far-end] destination got a call), e.g.
        `wait_dest_reached(Dest="answer", CallerID="15550001111")`."""
        return await self.wait_for(
            "UserEvent", timeout=timeout, where=None, UserEvent="DestReached", **fields
        )

    async def wait_hangup(self, call: Call, *, timeout: float = 10.0) -> Event:
        """Wait until the dialplan side (Local ;2) of `call` has hung up."""
        return await self.wait_for("Hangup", timeout=timeout, Uniqueid=call.channel_uniqueid)

    async def wait_outcome(self, call: Call, *, timeout: float = 30.0) -> CallOutcome:
        """Wait until the dialplan side of `call` hangs up, then report DID_FAILOVER_*,
        AGISTATUS and its hang-up cause (from the VarSet and Hangup events)."""
        hangup = await self.wait_hangup(call, timeout=timeout)
        variables: dict[str, str] = {}
        for varset in self.matching("VarSet", Uniqueid=call.channel_uniqueid):
            variables[varset["Variable"]] = varset.get("Value", "")
        return CallOutcome(
            result=variables.get("DID_FAILOVER_RESULT", ""),
            leg=variables.get("DID_FAILOVER_LEG", ""),
            dialstatus=variables.get("DID_FAILOVER_DIALSTATUS", ""),
            agistatus=variables.get("AGISTATUS", ""),
            hangup_cause=hangup.get("Cause", ""),
            variables=variables,
        )


# -- a stand-in FastAGI server ------------------------------------------------------


@dataclass
class AgiStub:
    """A minimal FastAGI server: reads each session's environment block, sends
    `commands` one by one (waiting for each reply), then closes the connection."""

    port: int = AGI_PORT
    commands: list[str] = field(default_factory=list)
    sessions: list[dict[str, str]] = field(default_factory=list)
    replies: list[str] = field(default_factory=list)
    _server: asyncio.Server | None = None

    async def __aenter__(self) -> AgiStub:
        self._server = await asyncio.start_server(self._session, "127.0.0.1", self.port)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        env: dict[str, str] = {}
        try:
            while line := (await reader.readline()).decode().rstrip("\r\n"):
                name, _, value = line.partition(":")
                env[name] = value.strip()
            self.sessions.append(env)
            for command in self.commands:
                writer.write(f"{command}\n".encode())
                await writer.drain()
                self.replies.append((await reader.readline()).decode().rstrip("\r\n"))
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
