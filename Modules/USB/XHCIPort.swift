import Memory
/// One root-hub port (xHCI 1.2 §4.19, PORTSC §5.4.8). A USB 2 port takes low, full and high speed
/// devices and is enabled by a port reset (§4.19.1.1); a USB 3 port takes SuperSpeed devices and
/// enables itself when the link trains (§4.19.1.2). Change bits are write-1-to-clear; setting
/// one raises a Port Status Change Event (the controller posts it).
public final class XHCIPort {
    /// 1-based port number (the Port ID of events and the Root Hub Port Number of slot contexts).
    public let number: Int
    public let isUSB3: Bool
    public private(set) var device: USBDeviceCore?
    /// PORTSC without PP and the speed field, which are derived.
    private var status: UInt32 = 0
    /// PORTPMSC, PORTLI and PORTHLPMC: stored for read-back (link power management is not modelled).
    private var powerManagement: UInt32 = 0
    private var hardwareLPM: UInt32 = 0

    public init(number: Int, isUSB3: Bool) {
        self.number = number
        self.isUSB3 = isUSB3
        reset()
    }

    /// Whether a device of `speed` can attach here.
    public func accepts(_ speed: USBSpeed) -> Bool { speed.isUSB3 == isUSB3 }

    /// Power-on / controller reset: a connected device shows up with Connect Status Change set,
    /// so the driver's first port scan finds it (§4.19.3).
    public func reset() {
        status = 0
        powerManagement = 0
        hardwareLPM = 0
        if device != nil { linkUp() } else { status = XHCILinkState.rxDetect << XHCIPortBit.linkStateShift }
    }

    /// The link state after a device appears: USB 3 trains to U0 and is enabled; USB 2 waits
    /// for the port reset in Polling, disabled.
    private func linkUp() {
        status = XHCIPortBit.currentConnect | XHCIPortBit.connectChange
        if isUSB3 {
            status |= XHCIPortBit.enabled | XHCILinkState.u0 << XHCIPortBit.linkStateShift
        } else {
            status |= XHCILinkState.polling << XHCIPortBit.linkStateShift
        }
    }

    /// Plugs `device` in. Returns whether a change bit was set (an event is due).
    @discardableResult
    public func connect(_ device: USBDeviceCore) -> Bool {
        self.device = device
        linkUp()
        return true
    }

    /// Unplugs the device (§4.19.1: CCS and PED clear, CSC set).
    @discardableResult
    public func disconnect() -> Bool {
        guard device != nil else { return false }
        device = nil
        status = XHCIPortBit.connectChange | (status & XHCIPortBit.changeBits) | XHCILinkState.rxDetect << XHCIPortBit.linkStateShift
        return true
    }

    public var isEnabled: Bool { status & XHCIPortBit.enabled != 0 }
    public var linkState: UInt32 { (status & XHCIPortBit.linkStateMask) >> XHCIPortBit.linkStateShift }
    public var changeBits: UInt32 { status & XHCIPortBit.changeBits }

    /// PORTSC as software reads it.
    public var portStatus: UInt32 {
        var value = status | XHCIPortBit.power
        if let device, status & XHCIPortBit.currentConnect != 0 {
            value |= device.speed.xhciSpeedID << XHCIPortBit.speedShift
        }
        return value
    }

    /// A PORTSC write. Returns whether a change bit went from 0 to 1.
    public func writeStatus(_ value: UInt32) -> Bool {
        let before = status & XHCIPortBit.changeBits
        status &= ~(value & XHCIPortBit.changeBits)
        // Wake enables and the indicator control are plain read/write.
        status = (status & ~(XHCIPortBit.wakeBits | XHCIPortBit.indicatorMask)) | (value & (XHCIPortBit.wakeBits | XHCIPortBit.indicatorMask))
        if value & XHCIPortBit.enabled != 0 {
            // PED is write-1-to-disable (§5.4.8); no PEC for a software disable.
            status &= ~XHCIPortBit.enabled
            if !isUSB3, device != nil { setLinkState(XHCILinkState.polling) }
        }
        if value & XHCIPortBit.warmReset != 0, isUSB3 {
            portReset(warm: true)
        } else if value & XHCIPortBit.reset != 0 {
            portReset(warm: false)
        }
        if value & XHCIPortBit.linkStateWriteStrobe != 0 {
            let target = (value & XHCIPortBit.linkStateMask) >> XHCIPortBit.linkStateShift
            if target == XHCILinkState.u0, linkState == XHCILinkState.u3 || linkState == XHCILinkState.resume {
                // Resume completes at once; the U3→U0 transition reports a link change (§4.15.2).
                setLinkState(XHCILinkState.u0)
                status |= XHCIPortBit.linkStateChange
            } else if target == XHCILinkState.u0 || target == XHCILinkState.u3 {
                setLinkState(target)
            } else if isUSB3, target == XHCILinkState.disabled || target == XHCILinkState.rxDetect {
                setLinkState(target)
                status &= ~XHCIPortBit.enabled
            }
        }
        return (status & XHCIPortBit.changeBits) & ~before != 0
    }

    /// The device signals resume (USB 2.0 §7.1.7.7; USB 3 exit from U3): a suspended port goes
    /// to Resume with Port Link State Change set (xHCI 1.2 §4.15.2.1, §4.19.1.2.13); software
    /// then writes U0, which sets PLC again when the link is back. Returns false (nothing
    /// changes) unless the port is enabled and in U3.
    public func remoteWakeup() -> Bool {
        guard device != nil, isEnabled, linkState == XHCILinkState.u3 else { return false }
        setLinkState(XHCILinkState.resume)
        status |= XHCIPortBit.linkStateChange
        return true
    }

    private func setLinkState(_ state: UInt32) {
        status = (status & ~XHCIPortBit.linkStateMask) | state << XHCIPortBit.linkStateShift
    }

    /// A port reset finishes immediately (the reset signalling takes no emulated time): the
    /// port is enabled in U0, PRC (and WRC for a warm reset) set, the device back to its default
    /// state (§4.19.5).
    private func portReset(warm: Bool) {
        status |= XHCIPortBit.resetChange | (warm ? XHCIPortBit.warmResetChange : 0)
        status &= ~XHCIPortBit.reset
        guard let device else { return }
        device.reset()
        status |= XHCIPortBit.enabled
        setLinkState(XHCILinkState.u0)
    }

    public func readPowerManagement() -> UInt32 { powerManagement }
    public func writePowerManagement(_ value: UInt32) { powerManagement = value }
    public func readHardwareLPM() -> UInt32 { hardwareLPM }
    public func writeHardwareLPM(_ value: UInt32) { hardwareLPM = value }
}

/// Snapshots: PORTSC (without the derived bits), PORTPMSC/PORTLI/PORTHLPMC, and whether a
/// device is attached (the board attaches the same one when the machine is built).
extension XHCIPort {
    func save(to state: inout DeviceStateWriter) {
        state.put(status)
        state.put(powerManagement)
        state.put(hardwareLPM)
        state.put(device != nil)
        device?.save(to: &state)
    }

    func restore(from state: inout DeviceStateReader) throws(DeviceStateError) {
        let registers = (try state.uint32("PORTSC"), try state.uint32("PORTPMSC"), try state.uint32("PORTHLPMC"))
        let attached = try state.bool()
        guard attached == (device != nil) else {
            throw .mismatch("port \(number) \(attached ? "had a device" : "was empty") when saved")
        }
        try device?.restore(from: &state)
        (status, powerManagement, hardwareLPM) = registers
    }
}
