#!/usr/bin/env python3
"""Writes structured seed inputs for the ring and protocol targets into a corpus folder (generated
at run time, never committed): a driver's first steps, a debugger's and a control client's
conversation, so the fuzzer starts from inputs that parse.

    seeds.py xhci_rings|virtio_chains|gdb_protocol|control_protocol CORPUS_DIR
"""
import os
import struct
import sys

RAM = 0x8000_0000


def trb(parameter, status, control):
    return struct.pack('<QII', parameter, status, control)


def ctrl(type_, cycle=1, extra=0):
    return type_ << 10 | extra | cycle


def xhci_seed(variant):
    ram = bytearray(16 * 1024)
    def put(offset, data):
        ram[offset:offset + len(data)] = data
    put(0x1000 + 8, struct.pack('<Q', RAM + 0x2800))                         # DCBAA[1] -> output context
    commands = [trb(0, 0, ctrl(9)),                                            # Enable Slot
                trb(RAM + 0x3400, 0, ctrl(11, extra=1 << 24)),                 # Address Device, slot 1
                trb(RAM + 0x3400, 0, ctrl(12, extra=1 << 24)),                 # Configure Endpoint
                trb(0, 0, ctrl(23)),                                           # No-Op
                trb(RAM + 0x3400, 0, ctrl(13, extra=1 << 24)),                 # Evaluate Context
                trb(0, 0, ctrl(15, extra=1 << 24 | 1 << 16))]                  # Stop Endpoint 1
    if variant == 1:
        commands.append(trb(RAM + 0x2000, 0, ctrl(6)))                         # Link back, no Toggle Cycle
    else:
        commands.append(trb(RAM + 0x2000, 0, ctrl(6, extra=2)))                # Link back, Toggle Cycle
    put(0x2000, b''.join(commands))
    put(0x3000, struct.pack('<QI', RAM + 0x3800, 16))                          # ERST: one 16-TRB segment
    input_context = struct.pack('<II', 0, 3) + bytes(24)                       # A0 | A1
    input_context += struct.pack('<IIII', 1 << 27 | (3 if variant else 1) << 20, (1 if variant == 0 else 3) << 16, 0, 0) + bytes(16)
    input_context += struct.pack('<IIQ', 0, 4 << 3 | 64 << 16 | 3 << 1, RAM + 0x3c00 | 1) + bytes(16)
    put(0x3400, input_context)
    setup = 0x80 | 6 << 8 | 0x100 << 16 | 18 << 48                             # GET_DESCRIPTOR(device)
    put(0x3c00, trb(setup, 8, ctrl(2, extra=1 << 6 | 3 << 16)) + trb(RAM + 0x3e00, 18, ctrl(3, extra=1 << 16))
        + trb(0, 0, ctrl(4, extra=1 << 5)) + trb(RAM + 0x3c00, 0, ctrl(6, extra=2)))
    ops = bytes([0])                                                           # ERSTSZ = 1
    for _ in range(4):
        ops += bytes([0, 0, 0])                                                # doorbell 0 (commands)
    ops += bytes([0, 1, 1]) * 3                                                # doorbell 1, EP0
    return bytes(ram) + ops


def virtio_seed(variant):
    ram = bytearray(0x3000)
    def put(offset, data):
        ram[offset:offset + len(data)] = data
    # Queue of 8 (the first input byte after RAM picks 1 << (n % 9)): a read request.
    descriptors = [(RAM + 0x2800, 16, 1, 1), (RAM + 0x2a00, 512, 3, 2), (RAM + 0x2e00, 1, 2, 0)]
    if variant == 1:
        descriptors[2] = (RAM + 0x2e00, 1, 3, 0)                                # loops back
    for index, (address, length, flags, next_) in enumerate(descriptors):
        put(16 * index, struct.pack('<QIHH', address, length, flags, next_))
    put(0x1000, struct.pack('<HHHHH', 0, 1, 0, 0, 0))                           # avail: idx 1, ring[0] = 0
    put(0x2800, struct.pack('<IIQ', 0, 0, 1))                                   # read sector 1
    return bytes(ram) + bytes([3]) + bytes([0, 0])                              # size 8, notify


def gdb_packet(payload):
    return b'$' + payload + b'#' + b'%02x' % (sum(payload) & 0xff)


def gdb_seed(variant):
    # What GDB sends on `target remote`, then reads, writes, breakpoints, steps and a monitor command:
    # as one stream (0), as lines the harness frames (1), and each packet alone (2...), so that
    # mutations of one packet's numbers are not lost in a long conversation.
    packets = [b'qSupported:multiprocess+;swbreak+;hwbreak+;qRelocInsn+', b'vMustReplyEmpty', b'QStartNoAckMode',
               b'Hg0', b'qXfer:features:read:target.xml:0,ffb', b'qXfer:features:read:target.xml:ffb,ffb',
               b'qfThreadInfo', b'qsThreadInfo', b'qC', b'qAttached', b'?', b'g', b'p20', b'p1065',
               b'P20=0000008000000000', b'm80000000,40', b'M80000000,4:01020304', b'X80000010,3:}\x03a}]',
               b'Z0,80000000,4', b'Z2,80000100,8', b'z0,80000000,4', b'Hc2', b'vCont?', b'vCont;s:2;c',
               b'T2', b'qThreadExtraInfo,1', b'qRcmd,696e666f2068617274730a', b'G' + b'00' * 8 * 33, b'D']
    if variant >= 2:
        return bytes([0x41]) + packets[(variant - 2) % len(packets)]
    if variant == 1:
        return bytes([0x41]) + b'\n'.join(packets)      # payloads, framed by the harness
    stream = b'+'.join(gdb_packet(p) for p in packets) + b'\x03'
    return bytes([1]) + stream


def control_seed(variant):
    lines = [b'help', b'info harts', b'pause', b'step 3', b'read 0x80000000 32', b'write 0x80000000 deadbeef',
             b'   ', b'usb attach xhci0/port1 usb-kbd', b'resume', b'a' * 40, b'quit']
    data = b'\n'.join(lines) + b'\n' + b'{"ok":true,"output":"hart 0: pc=0x80000000 M-mode\\n"}'
    return bytes([variant]) + data


def main():
    target, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    make = {'xhci_rings': xhci_seed, 'virtio_chains': virtio_seed, 'gdb_protocol': gdb_seed,
            'control_protocol': control_seed}[target]
    for variant in range({'gdb_protocol': 31}.get(target, 2)):
        with open(os.path.join(out, f'seed-{variant}'), 'wb') as f:
            f.write(make(variant))


if __name__ == '__main__':
    main()
