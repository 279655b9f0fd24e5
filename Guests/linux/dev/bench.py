#!/usr/bin/env python3
"""virtio-net and virtio-9p throughput of the development guest on qemu-system-riscv64 and on
Backplane, same kernel and initramfs (scripts/linux-guest.sh), same board (`virt`, PLIC, two
harts, 256 MiB) and the same devices (virtio-net on user networking at 00:02.0, virtio-9p at
00:03.0), printed side by side with Backplane/QEMU ratios:

  Guests/linux/dev/bench.py [MIB]      BACKPLANE=path overrides .build/release/backplane

- net: the guest sends MIB MiB (`dd if=/dev/zero | nc 10.0.2.2 PORT`) to a TCP sink this script
  runs on the host's 127.0.0.1; MB/s from the sink's first byte to its end of stream.
- 9p: the guest reads a MIB MiB file of the share (`dd if=/mnt/share/big of=/dev/null bs=128k`);
  MB/s over the host time between the markers the shell prints before and after dd (Debian's
  busybox dd prints no timing).
Nothing leaves the machine: the only peer is the sink on the loopback.
"""
import os, socket, subprocess, sys, tempfile, threading, time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
MIB = int(sys.argv[1]) if len(sys.argv) > 1 else 32
BACKPLANE = os.environ.get("BACKPLANE", os.path.join(ROOT, ".build/release/backplane"))


class Console:
    """The emulator's serial console through pipes; `run` frames a command with printed markers."""
    def __init__(self, argv):
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.buf = b""
        self.lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()
        self.n = 0

    def _read(self):
        while True:
            chunk = self.p.stdout.read1(4096)
            if not chunk:
                return
            with self.lock:
                self.buf += chunk

    def wait(self, text, timeout):
        end = time.time() + timeout
        while time.time() < end:
            with self.lock:
                i = self.buf.find(text.encode())
                if i >= 0:
                    out = self.buf[:i + len(text)]
                    self.buf = self.buf[i + len(text):]
                    return out.decode(errors="replace")
            time.sleep(0.02)
        raise TimeoutError("no %r; console tail:\n%s" % (text, self.buf[-2000:].decode(errors="replace")))

    def type(self, text):
        for ch in text.encode():
            self.p.stdin.write(bytes([ch]))
            self.p.stdin.flush()
            time.sleep(0.002)

    def run(self, command, timeout=300):
        """Runs `command`; its output and the host seconds between the two printed markers."""
        self.n += 1
        self.type('echo @@"S"%d@@; %s; echo @@"%d"@@\n' % (self.n, command, self.n))
        self.wait("@@S%d@@" % self.n, timeout)
        start = time.time()
        out = self.wait("@@%d@@" % self.n, timeout)[:-len("@@%d@@" % self.n)].strip()
        self.seconds = time.time() - start
        return out

    def close(self):
        self.type("poweroff\n")
        try:
            self.p.wait(60)
        except subprocess.TimeoutExpired:
            self.p.kill()


def sink():
    """A TCP sink on 127.0.0.1: returns (port, result) where result fills in (bytes, seconds)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    result = {}

    def serve():
        connection, _ = server.accept()
        total, first = 0, None
        while True:
            data = connection.recv(1 << 16)
            if not data:
                break
            if first is None:
                first = time.time()
            total += len(data)
        result["bytes"], result["seconds"] = total, time.time() - (first or time.time())
        connection.close()
        server.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return server.getsockname()[1], result, thread


def measure(name, argv):
    console = Console(argv)
    try:
        console.wait("dev-guest: ready", 300)
        console.run("true")
        port, result, thread = sink()
        console.run("dd if=/dev/zero bs=64k count=%d 2>/dev/null | nc 10.0.2.2 %d" % (MIB * 16, port))
        thread.join(60)
        net = result["bytes"] / result["seconds"] / 1e6 if result.get("seconds") else float("nan")
        if result.get("bytes") != MIB << 20:
            raise RuntimeError("%s: the sink got %s bytes, not %d" % (name, result.get("bytes"), MIB << 20))
        out = console.run("dd if=/mnt/share/big of=/dev/null bs=128k")
        if "%d+0 records in" % (MIB * 8) not in out:
            raise RuntimeError("%s: dd read %r" % (name, out))
        nine = (MIB << 20) / console.seconds / 1e6
        return net, nine
    finally:
        console.close()


def main():
    lines = subprocess.run([os.path.join(ROOT, "scripts/linux-guest.sh")], check=True, capture_output=True, text=True).stdout.split()
    image, initrd = lines[0], lines[1]
    share = tempfile.mkdtemp(prefix="dev-guest-bench-")
    with open(os.path.join(share, "big"), "wb") as f:
        f.write(os.urandom(MIB << 20))
    common = ["-append", "console=ttyS0 quiet"]
    qemu = ["qemu-system-riscv64", "-M", "virt", "-smp", "2", "-m", "256M", "-nographic", "-kernel", image, "-initrd", initrd,
            "-netdev", "user,id=n0", "-device", "virtio-net-pci,netdev=n0,addr=02.0",
            "-fsdev", "local,id=f0,path=%s,security_model=none" % share, "-device", "virtio-9p-pci,fsdev=f0,mount_tag=share,addr=03.0"] + common
    backplane = [BACKPLANE, "run", "virt", "--kernel", image, "--initrd", initrd, "--append", "console=ttyS0 quiet",
                 "--memory", "256M", "--smp", "2", "--serial", "stdio", "--timeout", "600",
                 "--device", "virtio-net-pci,at=pcie0/02.0", "--device", "virtio-9p-pci,at=pcie0/03.0,path=%s" % share]
    results = {"qemu 7.2": measure("qemu", qemu), "backplane": measure("backplane", backplane)}
    q = results["qemu 7.2"]
    print("%-10s %14s %14s   (%d MiB each; MB/s)" % ("", "net guest->host", "9p read", MIB))
    for name, (net, nine) in results.items():
        print("%-10s %14.1f %14.1f" % (name, net, nine))
    b = results["backplane"]
    print("%-10s %13.2fx %13.2fx" % ("ratio", b[0] / q[0], b[1] / q[1]))


if __name__ == "__main__":
    main()
