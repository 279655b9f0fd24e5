import Memory
import PCI

/// BAR 0 accesses: capability (§5.3), operational (§5.4), port (§5.4.8), runtime (§5.5) and
/// doorbell (§5.6) registers, the extended capabilities and the MSI-X table. The bus hands
/// 32-bit accesses only (64-bit registers are written low dword first, as Linux's lo_hi_writeq).
extension XHCIController {
    // MARK: Capability parameters

    /// HCSPARAMS1: MaxSlots, MaxIntrs, MaxPorts.
    var structuralParameters1: UInt32 {
        UInt32(maxSlots) | UInt32(interrupters.count) << 8 | UInt32(ports.count) << 24
    }

    /// HCSPARAMS2: IST 1 frame... as QEMU (0xf: isochronous threshold in frames), ERST Max 4
    /// (16 segments), no scratchpad buffers.
    var structuralParameters2: UInt32 { 0xf | 4 << 4 }

    /// HCCPARAMS1: 64-bit addressing, 32-byte contexts, no port power control, no streams
    /// (MaxPSASize 0), extended capabilities at `XHCILayout.extendedCapabilities`.
    var capabilityParameters1: UInt32 {
        1 | UInt32(XHCILayout.extendedCapabilities / 4) << 16
    }

    // The BAR declares 32-bit accesses only (`XHCIController.bars`): the bus widens narrower
    // reads, widens narrower writes and splits wider ones, so `offset` is dword aligned and
    // `size` is 4 here.
    public func readBAR(_ bar: Int, offset: UInt64, size: Int) -> UInt64 {
        if let value = msix.readBAR(bar, offset: offset, size: size) { return value }
        guard bar == 0 else { return 0 }
        return UInt64(readDword(offset))
    }

    public func writeBAR(_ bar: Int, offset: UInt64, size: Int, value: UInt64) {
        if msix.writeBAR(bar, offset: offset, size: size, value: value) { return }
        guard bar == 0 else { return }
        writeDword(offset, UInt32(truncatingIfNeeded: value))
    }

    private func readDword(_ offset: UInt64) -> UInt32 {
        switch offset {
        case 0..<XHCILayout.extendedCapabilities:
            switch offset {
            case XHCICapabilityRegister.capabilityLength:
                // CAPLENGTH (7:0) and HCIVERSION 1.2 (31:16).
                return UInt32(XHCILayout.capabilityLength) | 0x0120 << 16
            case XHCICapabilityRegister.structuralParameters1: return structuralParameters1
            case XHCICapabilityRegister.structuralParameters2: return structuralParameters2
            case XHCICapabilityRegister.structuralParameters3: return 0
            case XHCICapabilityRegister.capabilityParameters1: return capabilityParameters1
            case XHCICapabilityRegister.doorbellOffset: return UInt32(XHCILayout.doorbells)
            case XHCICapabilityRegister.runtimeOffset: return UInt32(XHCILayout.runtime)
            default: return 0
            }
        case XHCILayout.extendedCapabilities..<XHCILayout.capabilityLength:
            return XHCISupportedProtocol.dword(offset - XHCILayout.extendedCapabilities, usb2Ports: usb2PortCount, usb3Ports: usb3PortCount)
        case XHCILayout.operational..<XHCILayout.ports:
            return readOperational(offset - XHCILayout.operational)
        case XHCILayout.ports..<(XHCILayout.ports + XHCILayout.portStride * UInt64(ports.count)):
            let port = ports[Int((offset - XHCILayout.ports) / XHCILayout.portStride)]
            switch (offset - XHCILayout.ports) % XHCILayout.portStride {
            case 0x0: return port.portStatus
            case 0x4: return port.readPowerManagement()
            case 0xc: return port.readHardwareLPM()
            default: return 0
            }
        case XHCILayout.runtime..<XHCILayout.interrupters:
            return offset == XHCILayout.runtime ? microframeIndex : 0
        case XHCILayout.interrupters..<(XHCILayout.interrupters + XHCILayout.interrupterStride * UInt64(interrupters.count)):
            let interrupter = interrupters[Int((offset - XHCILayout.interrupters) / XHCILayout.interrupterStride)]
            switch (offset - XHCILayout.interrupters) % XHCILayout.interrupterStride {
            case XHCIInterrupterRegister.management: return interrupter.management
            case XHCIInterrupterRegister.moderation: return interrupter.moderation
            case XHCIInterrupterRegister.tableSize: return interrupter.tableSize
            case XHCIInterrupterRegister.tableBase: return UInt32(truncatingIfNeeded: interrupter.tableBase)
            case XHCIInterrupterRegister.tableBase + 4: return UInt32(truncatingIfNeeded: interrupter.tableBase >> 32)
            case XHCIInterrupterRegister.dequeuePointer: return UInt32(truncatingIfNeeded: interrupter.dequeuePointer)
            case XHCIInterrupterRegister.dequeuePointer + 4: return UInt32(truncatingIfNeeded: interrupter.dequeuePointer >> 32)
            default: return 0
            }
        default:
            // Doorbells read as zero (§5.6).
            return 0
        }
    }

    private func readOperational(_ offset: UInt64) -> UInt32 {
        switch offset {
        case XHCIOperationalRegister.command: return command
        case XHCIOperationalRegister.status: return status
        case XHCIOperationalRegister.pageSize: return 1   // 4 KiB pages only (§5.4.3)
        case XHCIOperationalRegister.deviceNotificationControl: return notificationControl
        // CRCR reads zero except Command Ring Running (§5.4.5).
        case XHCIOperationalRegister.commandRingControl: return commandRingRunning ? UInt32(XHCICommandRingBit.commandRingRunning) : 0
        case XHCIOperationalRegister.deviceContextBaseArray: return UInt32(truncatingIfNeeded: deviceContextBaseArray)
        case XHCIOperationalRegister.deviceContextBaseArray + 4: return UInt32(truncatingIfNeeded: deviceContextBaseArray >> 32)
        case XHCIOperationalRegister.configure: return configure
        default: return 0
        }
    }

    private func writeDword(_ offset: UInt64, _ value: UInt32) {
        switch offset {
        case XHCILayout.operational..<XHCILayout.ports:
            writeOperational(offset - XHCILayout.operational, value)
        case XHCILayout.ports..<(XHCILayout.ports + XHCILayout.portStride * UInt64(ports.count)):
            let port = ports[Int((offset - XHCILayout.ports) / XHCILayout.portStride)]
            switch (offset - XHCILayout.ports) % XHCILayout.portStride {
            case 0x0:
                if port.writeStatus(value) { portChanged(port) }
            case 0x4: port.writePowerManagement(value)
            case 0xc: port.writeHardwareLPM(value)
            default: break
            }
        case XHCILayout.interrupters..<(XHCILayout.interrupters + XHCILayout.interrupterStride * UInt64(interrupters.count)):
            writeInterrupter(Int((offset - XHCILayout.interrupters) / XHCILayout.interrupterStride),
                             (offset - XHCILayout.interrupters) % XHCILayout.interrupterStride, value)
        case XHCILayout.doorbells..<(XHCILayout.doorbells + 4 * UInt64(maxSlots + 1)):
            ringDoorbell(Int((offset - XHCILayout.doorbells) / 4), target: Int(value & 0xff), stream: Int(value >> 16))
        default:
            break
        }
    }

    private func writeOperational(_ offset: UInt64, _ value: UInt32) {
        switch offset {
        case XHCIOperationalRegister.command:
            if value & XHCICommandBit.hostControllerReset != 0 {
                // The reset completes before the driver can poll HCRST (§4.2).
                resetController()
                return
            }
            let wasRunning = command & XHCICommandBit.runStop != 0
            command = value & XHCICommandBit.writable
            if !wasRunning, command & XHCICommandBit.runStop != 0, status & (XHCIStatusBit.hostSystemError | XHCIStatusBit.hostControllerError) == 0 {
                status &= ~XHCIStatusBit.halted
                // Ports that changed while halted report now.
                for port in ports where port.changeBits != 0 { post(XHCIEvent.portStatusChange(port: port.number)) }
            } else if wasRunning, command & XHCICommandBit.runStop == 0 {
                status |= XHCIStatusBit.halted
                commandRingRunning = false
            }
            updateINTx()
        case XHCIOperationalRegister.status:
            status &= ~(value & XHCIStatusBit.clearOnWrite)
        case XHCIOperationalRegister.deviceNotificationControl:
            notificationControl = value & 0xffff
        case XHCIOperationalRegister.commandRingControl:
            writeCommandRingControl(low: value)
        case XHCIOperationalRegister.commandRingControl + 4:
            // The pointer's high half; ignored while the ring runs (§5.4.5).
            guard !commandRingRunning else { return }
            commandRingPointer = (commandRingPointer & 0xffff_ffff) | UInt64(value) << 32
            commandRing.dequeue = commandRingPointer & XHCICommandRingBit.pointerMask
        case XHCIOperationalRegister.deviceContextBaseArray:
            deviceContextBaseArray = (deviceContextBaseArray & ~0xffff_ffff) | UInt64(value & ~0x3f)
        case XHCIOperationalRegister.deviceContextBaseArray + 4:
            deviceContextBaseArray = (deviceContextBaseArray & 0xffff_ffff) | UInt64(value) << 32
        case XHCIOperationalRegister.configure:
            configure = value & 0x3ff
        default:
            break
        }
    }

    /// CRCR low dword: pointer and RCS while stopped; Command Stop / Abort while running
    /// (§4.6.1.1-§4.6.1.2: the controller posts a Command Ring Stopped completion).
    private func writeCommandRingControl(low value: UInt32) {
        let value = UInt64(value)
        if commandRingRunning {
            if value & (XHCICommandRingBit.commandStop | XHCICommandRingBit.commandAbort) != 0 {
                commandRingRunning = false
                post(XHCIEvent.commandCompletion(command: commandRing.dequeue, code: .commandRingStopped, slot: 0))
            }
            return
        }
        commandRingPointer = (commandRingPointer & ~0xffff_ffff) | (value & 0xffff_ffff)
        commandRing = XHCIRing(dequeue: commandRingPointer & XHCICommandRingBit.pointerMask,
                               cycle: value & XHCICommandRingBit.ringCycleState != 0)
    }

    private func writeInterrupter(_ index: Int, _ register: UInt64, _ value: UInt32) {
        let interrupter = interrupters[index]
        switch register {
        case XHCIInterrupterRegister.management:
            interrupter.writeManagement(value)
            updateINTx()
        case XHCIInterrupterRegister.moderation:
            interrupter.writeModeration(value)
        case XHCIInterrupterRegister.tableSize:
            interrupter.writeTableSize(value)
        case XHCIInterrupterRegister.tableBase:
            // The low half only latches; the ring starts when the high half is written (§5.5.2.3.2,
            // 64-bit registers are written low then high).
            _ = interrupter.latchTableBaseLow(value)
        case XHCIInterrupterRegister.tableBase + 4:
            if case .failure = interrupter.writeTableBase(UInt64(value) << 32 | (interrupter.tableBase & 0xffff_ffff), bus) {
                hostSystemError()
            }
        case XHCIInterrupterRegister.dequeuePointer:
            let pointer = (interrupter.dequeuePointer & ~0xffff_ffff) | UInt64(value)
            if interrupter.writeDequeuePointer(pointer) { signal(interrupter) }
        case XHCIInterrupterRegister.dequeuePointer + 4:
            let pointer = (interrupter.dequeuePointer & 0xffff_fff0) | UInt64(value) << 32
            if interrupter.writeDequeuePointer(pointer) { signal(interrupter) }
        default:
            break
        }
    }
}
