#!/usr/bin/env python3
"""Socket fuzzer (issue 15, docs/reliability.md): the control socket and the GDB stub of a running
release binary, spoken to as a hostile user would. Machine+Control's command parsing and the
machine's GDB target need a real machine, which the libFuzzer targets (gdb_protocol,
control_protocol) do not build; this drives one through its sockets.

One `backplane run virt` (OpenSBI and U-Boot, plus an xHCI controller for hot-plug) per seed; rounds alternate
between the control socket (commands from a grammar with numbers at their edges, hot-plug of
every USB type with good and bad files, overlong, empty and non-UTF-8 lines) and the GDB socket
(packets from a grammar: registers, memory, breakpoints and watchpoints, threads, steps and
continues, monitor commands, corrupt checksums; a detach ends each GDB round). Every command must
be answered within 20 s, the process must live until the closing `quit`, which must end it with
status 0.

    Fuzz/sockets.py [--seconds 60 | --seeds 1-20] [--commands 300] [--backplane PATH]

A failing seed prints its transcript and writes it to Fuzz/regressions/sockets/seed-N.txt (one
`ctl LINE` or `gdb PACKET` per line, Python-escaped); every later run replays that folder first.
"""
import argparse
import ast
import os
import random
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REGRESSIONS = os.path.join(ROOT, 'Fuzz', 'regressions', 'sockets')
ANSWER_SECONDS = 20

EDGES = ['0', '1', '-1', '0x', '0x-1', '+5', '1e9', ' ', '0x80000000', '0x87fffff0', '0x88000000',
         '0x7fffffffffffffff', '0xffffffffffffffff', '0x10000000000000000', '18446744073709551615',
         '18446744073709551616', '4096', '4097', '100000000', '100000001', '0x1000', '0x3000_0000',
         '0x30000000', '0x40000000', '0x10000000', '٣', 'ff' * 40]
USB_TYPES = ['usb-kbd', 'usb-tablet', 'usb-loopback', 'usb-storage', 'usb-host', 'edu', 'qemu-xhci', 'nope']


class Failure(Exception):
    pass


def number(rng):
    if rng.random() < 0.6:
        return rng.choice(EDGES)
    return hex(rng.getrandbits(rng.choice([8, 16, 32, 40, 64])))


def usb_property(rng, scratch):
    files = [scratch['disk'], scratch['fifo'], scratch['dir'], '/dev/zero', '/dev/null', '/nonexistent', '', scratch['disk'] + ',x']
    key = rng.choice(['file', 'read-only', 'input', 'speed', 'vendor', 'product', 'bus', 'port', 'recording', 'name', 'at', 'reg', 'irq', 'x'])
    if key in ('file', 'recording', 'input'):
        value = rng.choice(files)
    elif key == 'at':
        value = rng.choice(['xhci9/port1', 'xhci9/port3', 'xhci9/port99', 'xhci9/port0', 'pcie0/07.0', 'pcie0/00.0', 'x'])
    else:
        value = rng.choice(EDGES + ['yes', 'no', 'super', 'high'])
    return f'{key}={value}'


def control_line(rng, scratch):
    place = rng.choice(['xhci9/port1', 'xhci9/port2', 'xhci9/port4', 'xhci9/port0', 'xhci9/port99', 'xhci9/port',
                        'xhci9/portx', 'xhci0/port1', 'xhci9', '/', 'xhci9/port1/port2'])
    choices = [
        lambda: 'help',
        lambda: 'info ' + rng.choice(['harts', 'pci', 'usb', 'devices', 'memory', 'x', '']),
        lambda: 'pause', lambda: 'resume', lambda: 'continue',
        lambda: 'step ' + rng.choice(['1', '2', '10', '1000', number(rng)]),
        lambda: 'read ' + number(rng) + (' ' + number(rng) if rng.random() < 0.7 else ''),
        lambda: 'write ' + number(rng) + ' ' + rng.choice(['00', 'deadbeef', 'f', 'zz', '+f', '-0', 'ff' * rng.randrange(1, 5000)]),
        lambda: 'usb attach ' + place + ' ' + rng.choice(USB_TYPES) + ''.join(' ' + usb_property(rng, scratch) for _ in range(rng.randrange(3))),
        lambda: 'usb detach ' + place,
        lambda: 'usb ' + rng.choice(['', 'attach', 'detach', 'x']) + ' ' + place,
        lambda: 'snapshot ' + number(rng),
        lambda: rng.choice(['', '   ', '\t', 'x' * 70000, '\x00', '\xff\xfe', '\udcff\udcfe', 'quitx', 'info  harts', ' pause ', '\r']),
    ]
    return rng.choice(choices)()


def gdb_packet(rng, scratch):
    address = lambda: rng.choice(['80000000', '0', 'ffffffffffffffff', '87fffff0', '10000000', '8000000000000000',
                                  format(rng.getrandbits(64), 'x'), ''])
    length = lambda: rng.choice(['1', '4', '8', '40', '1000', '2000', '0', 'ffffffffffffffff', '8000000000000000', ''])
    choices = [
        lambda: '?', lambda: 'g', lambda: 'qC', lambda: 'qfThreadInfo', lambda: 'qsThreadInfo', lambda: 'qAttached',
        lambda: 'qSupported:swbreak+', lambda: 'vCont?', lambda: 'vMustReplyEmpty',
        lambda: 'p' + rng.choice(['0', '20', '21', '40', '41', '42', '44', '1065', '1365', '10c5', '2000', 'ffffffffffffffff', format(rng.getrandbits(16), 'x')]),
        lambda: 'P' + rng.choice(['1', '20', '41', '44', '1065', '10c5', '1365', '1185', '1045', 'ffffffff']) + '=' + format(rng.getrandbits(64), '016x'),
        lambda: 'G' + '00' * rng.choice([8, 256, 264, 520, 3]),
        lambda: 'm' + address() + ',' + length(),
        lambda: 'M' + address() + ',' + rng.choice(['1', '4', '2']) + ':' + rng.choice(['00', '13000000', '0000', 'zz']),
        lambda: 'X' + address() + ',' + rng.choice(['0', '1', '2']) + ':' + rng.choice(['', 'a', '}]', 'ab']),
        lambda: rng.choice('Zz') + rng.choice('0123459') + ',' + address() + ',' + length(),
        lambda: 'H' + rng.choice('gcx') + rng.choice(['0', '1', '2', '-1', 'ffffffff', '']),
        lambda: 'T' + rng.choice(['1', '2', '0', '-1']),
        lambda: 'qThreadExtraInfo,' + rng.choice(['1', '2', '0', 'ffffffffffffffff']),
        lambda: 'qXfer:features:read:target.xml:' + rng.choice(['0', 'ffb', '100000']) + ',' + length(),
        lambda: 'qRcmd,' + control_line(rng, scratch).encode('utf-8', 'surrogateescape')[:2000].hex(),
        lambda: rng.choice(['s', 'S05', 'vCont;s:1', 'vCont;s:2;c', 'vCont;c', 'c', 'C05', 'vCont;t', 'vCont;x', 'vCont;s:9']),
        lambda: rng.choice(['', 'Q', 'qX', 'v', 'vFile:open:', 'bc', 'i', 'R00', '!']),
    ]
    return rng.choice(choices)()


class Machine:
    """One backplane process with its two sockets."""

    def __init__(self, backplane, directory):
        self.directory = directory
        self.control = os.path.join(directory, 'ctl.sock')
        self.gdb = os.path.join(directory, 'gdb.sock')
        command = [backplane, 'run', 'virt', '--timeout', '900', '--serial', 'file:' + os.path.join(directory, 'console'),
                   '--device', 'qemu-xhci,name=xhci9,at=pcie0/06.0', '--control', 'unix:' + self.control, '--gdb', 'unix:' + self.gdb]
        self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while not (os.path.exists(self.control) and os.path.exists(self.gdb)):
            if self.process.poll() is not None or time.time() > deadline:
                raise Failure('the machine did not start: ' + self.process.stdout.read().decode(errors='replace'))
            time.sleep(0.02)
        self.ctl_socket = None

    def connect(self, path):
        """A client socket on `path`. The file exists from bind() on, a moment before listen():
        a refusal in that moment is retried, as any client would."""
        for attempt in range(50):
            client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            client.settimeout(ANSWER_SECONDS)
            try:
                client.connect(path)
                return client
            except ConnectionRefusedError:
                client.close()
                self.alive()
                time.sleep(0.02)
        raise Failure(f'{path}: connection refused for a second')

    def alive(self):
        if self.process.poll() is not None:
            raise Failure(f'the process ended with status {self.process.returncode}: '
                          + self.process.stdout.read().decode(errors='replace')[-2000:])

    def ctl(self, line):
        if self.ctl_socket is None:
            self.ctl_socket = self.connect(self.control)
            self.ctl_buffer = b''
        data = line.encode('utf-8', 'surrogateescape') if isinstance(line, str) else line
        self.ctl_socket.sendall(data + b'\n')
        if not data.strip():
            return None  # A blank line gets no answer.
        deadline = time.time() + ANSWER_SECONDS
        while b'\n' not in self.ctl_buffer:
            try:
                chunk = self.ctl_socket.recv(65536)
            except socket.timeout:
                chunk = None
            if not chunk or time.time() > deadline:
                self.alive()
                raise Failure(f'no answer to {line[:200]!r} within {ANSWER_SECONDS} s')
            self.ctl_buffer += chunk
        answer, _, self.ctl_buffer = self.ctl_buffer.partition(b'\n')
        return answer

    def gdb_round(self, packets):
        """Connects (which stops the machine), sends each packet, reads its answer; detaches."""
        client = self.connect(self.gdb)
        buffer = b''

        def frame(payload):
            return b'$' + payload + b'#' + b'%02x' % (sum(payload) & 0xff)

        def read_packet(what):
            nonlocal buffer
            deadline = time.time() + ANSWER_SECONDS
            while True:
                start = buffer.find(b'$')
                end = buffer.find(b'#', start + 1) if start >= 0 else -1
                if start >= 0 and end >= 0 and len(buffer) >= end + 3:
                    payload, buffer = buffer[start + 1:end], buffer[end + 3:]
                    return payload
                try:
                    chunk = client.recv(65536)
                except socket.timeout:
                    chunk = None
                if not chunk or time.time() > deadline:
                    self.alive()
                    raise Failure(f'gdb: no answer to {what!r} within {ANSWER_SECONDS} s')
                buffer += chunk

        try:
            # Connecting stops the machine, which reports that stop (T02) without being asked;
            # skip it, so that every later answer is the one to the packet just sent.
            client.sendall(frame(b'QStartNoAckMode'))
            while read_packet('QStartNoAckMode') != b'OK':
                pass
            for packet in packets:
                data = packet.encode()
                corrupt = packet.startswith('!')
                client.sendall(data[1:] + b'$' + data + b'#00' if corrupt else frame(data))
                if corrupt:
                    continue  # No answer to a bad checksum once acks are off.
                resumes = data[:1] in (b'c', b'C', b's', b'S') or (data.startswith(b'vCont;') and data != b'vCont;x' and data != b'vCont;s:9')
                if resumes:
                    time.sleep(0.01)
                    client.sendall(b'\x03')  # Stop it again; the stop reply answers.
                read_packet(packet)
            client.sendall(frame(b'D'))
            read_packet('D')
        finally:
            client.close()

    def quit(self):
        answer = self.ctl('quit')
        try:
            status = self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            raise Failure(f'quit ({answer!r}) did not end the process')
        if status != 0:
            raise Failure(f'quit ended the process with status {status}')

    def close(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def scratch_files(directory):
    disk = os.path.join(directory, 'disk.img')
    with open(disk, 'wb') as f:
        f.truncate(1 << 20)
    fifo = os.path.join(directory, 'fifo')
    os.mkfifo(fifo)
    folder = os.path.join(directory, 'folder')
    os.mkdir(folder)
    return {'disk': disk, 'fifo': fifo, 'dir': folder}


def plan(seed, commands, scratch):
    """The seed's transcript: ('ctl', line) and ('gdb', [packets]) rounds."""
    rng = random.Random(seed)
    steps = []
    while sum(1 if kind == 'ctl' else len(item) for kind, item in steps) < commands:
        if rng.random() < 0.3:
            steps.append(('gdb', [gdb_packet(rng, scratch) for _ in range(rng.randrange(1, 30))]))
        else:
            steps.extend(('ctl', control_line(rng, scratch)) for _ in range(rng.randrange(1, 20)))
    return steps


def run(backplane, steps, label):
    with tempfile.TemporaryDirectory(prefix='bp-sockets-') as directory:
        # Placeholders in a replayed transcript name this run's scratch files.
        scratch = scratch_files(directory)
        machine = Machine(backplane, directory)
        done = []
        try:
            for kind, item in steps:
                if isinstance(item, str):
                    for name, path in scratch.items():
                        item = item.replace('{' + name + '}', path)
                done.append((kind, item))
                if kind == 'ctl':
                    machine.ctl(item)
                else:
                    machine.gdb_round(item)
            machine.quit()
            return None
        except (Failure, OSError) as error:
            machine.close()
            return f'{label}: {error}', done, scratch
        finally:
            machine.close()


def transcript(done, scratch):
    lines = []
    for kind, item in done:
        items = item if kind == 'gdb' else [item]
        if kind == 'gdb':
            lines.append('gdb-round')
        for text in items:
            for name, path in scratch.items():
                text = text.replace(path, '{' + name + '}')
            lines.append(f'{kind} {text!r}')
    return '\n'.join(lines) + '\n'


def load(path):
    steps = []
    for line in open(path, encoding='utf-8'):
        line = line.rstrip('\n')
        if not line or line.startswith('#'):
            continue
        if line == 'gdb-round':
            steps.append(('gdb', []))
            continue
        kind, _, text = line.partition(' ')
        value = ast.literal_eval(text)
        if kind == 'gdb':
            steps[-1][1].append(value)
        else:
            steps.append(('ctl', value))
    return steps


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--seconds', type=float, default=0)
    parser.add_argument('--seeds', default='')
    parser.add_argument('--commands', type=int, default=300)
    parser.add_argument('--backplane', default=os.environ.get('BACKPLANE', os.path.join(ROOT, '.build/release/backplane')))
    args = parser.parse_args()
    failures = 0
    sent = 0
    # Inputs that once failed come first.
    if os.path.isdir(REGRESSIONS):
        for name in sorted(os.listdir(REGRESSIONS)):
            steps = load(os.path.join(REGRESSIONS, name))
            result = run(args.backplane, steps, f'regression {name}')
            sent += sum(1 if kind == 'ctl' else len(item) for kind, item in steps)
            if result:
                failures += 1
                print(f'sockets: FAILED: {result[0]}')
    if args.seeds:
        first, _, last = args.seeds.partition('-')
        seeds = iter(range(int(first), int(last or first) + 1))
    else:
        seeds = iter(range(random.randrange(1 << 30), 1 << 62))
    deadline = time.time() + (args.seconds or 60)  # at least one machine is always run
    runs = 0
    for seed in seeds:
        if not args.seeds and runs and time.time() >= deadline:
            break
        scratch_names = {'disk': '{disk}', 'fifo': '{fifo}', 'dir': '{dir}'}
        steps = plan(seed, args.commands, scratch_names)
        result = run(args.backplane, steps, f'seed {seed}')
        runs += 1
        sent += sum(1 if kind == 'ctl' else len(item) for kind, item in steps)
        if result:
            failures += 1
            message, done, scratch = result
            os.makedirs(REGRESSIONS, exist_ok=True)
            path = os.path.join(REGRESSIONS, f'seed-{seed}.txt')
            with open(path, 'w', encoding='utf-8') as f:
                f.write(f'# {message}\n' + transcript(done, scratch))
            print(f'sockets: FAILED: {message} (transcript in {os.path.relpath(path, ROOT)}; the last step failed)')
    print(f'sockets: {runs} machines, {sent} commands and packets, {failures} failures')
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
