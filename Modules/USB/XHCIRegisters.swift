/// Register layout of the xHCI controller's BAR 0 (xHCI 1.2 §5). Offsets are BAR-relative; QEMU's
/// `qemu-xhci` uses the same layout, so drivers see a familiar controller.
public enum XHCILayout {
    /// BAR 0 size: capability + operational + ports, runtime, doorbells, MSI-X table and PBA.
    public static let barSize: UInt64 = 0x4000
    /// Capability registers end and operational registers begin (CAPLENGTH).
    public static let capabilityLength: UInt64 = 0x40
    /// Extended capabilities (Supported Protocol) inside the capability block.
    public static let extendedCapabilities: UInt64 = 0x20
    public static let operational: UInt64 = capabilityLength
    /// Port register sets begin at operational + 0x400, 16 bytes each (§5.4.8).
    public static let ports: UInt64 = operational + 0x400
    public static let portStride: UInt64 = 0x10
    public static let runtime: UInt64 = 0x1000
    /// Interrupter register sets begin at runtime + 0x20, 32 bytes each (§5.5.2).
    public static let interrupters: UInt64 = runtime + 0x20
    public static let interrupterStride: UInt64 = 0x20
    public static let doorbells: UInt64 = 0x2000
    public static let msixTable: UInt64 = 0x3000
    public static let msixPBA: UInt64 = 0x3800
}

/// Capability registers (xHCI 1.2 §5.3).
public enum XHCICapabilityRegister {
    public static let capabilityLength: UInt64 = 0x00
    public static let interfaceVersion: UInt64 = 0x02
    public static let structuralParameters1: UInt64 = 0x04
    public static let structuralParameters2: UInt64 = 0x08
    public static let structuralParameters3: UInt64 = 0x0c
    public static let capabilityParameters1: UInt64 = 0x10
    public static let doorbellOffset: UInt64 = 0x14
    public static let runtimeOffset: UInt64 = 0x18
    public static let capabilityParameters2: UInt64 = 0x1c
}

/// Operational registers relative to `XHCILayout.operational` (xHCI 1.2 §5.4).
public enum XHCIOperationalRegister {
    public static let command: UInt64 = 0x00
    public static let status: UInt64 = 0x04
    public static let pageSize: UInt64 = 0x08
    public static let deviceNotificationControl: UInt64 = 0x14
    public static let commandRingControl: UInt64 = 0x18
    public static let deviceContextBaseArray: UInt64 = 0x30
    public static let configure: UInt64 = 0x38
}

/// USBCMD bits (§5.4.1).
public enum XHCICommandBit {
    public static let runStop: UInt32 = 1 << 0
    public static let hostControllerReset: UInt32 = 1 << 1
    public static let interrupterEnable: UInt32 = 1 << 2
    public static let hostSystemErrorEnable: UInt32 = 1 << 3
    public static let lightHostControllerReset: UInt32 = 1 << 7
    public static let controllerSaveState: UInt32 = 1 << 8
    public static let controllerRestoreState: UInt32 = 1 << 9
    public static let enableWrapEvent: UInt32 = 1 << 10
    public static let enableU3MFINDEXStop: UInt32 = 1 << 11
    /// Bits software may set; the rest read as zero.
    public static let writable: UInt32 = runStop | interrupterEnable | hostSystemErrorEnable | enableWrapEvent | enableU3MFINDEXStop
}

/// USBSTS bits (§5.4.2).
public enum XHCIStatusBit {
    public static let halted: UInt32 = 1 << 0
    public static let hostSystemError: UInt32 = 1 << 2
    public static let eventInterrupt: UInt32 = 1 << 3
    public static let portChangeDetect: UInt32 = 1 << 4
    public static let saveStateStatus: UInt32 = 1 << 8
    public static let restoreStateStatus: UInt32 = 1 << 9
    public static let saveRestoreError: UInt32 = 1 << 10
    public static let controllerNotReady: UInt32 = 1 << 11
    public static let hostControllerError: UInt32 = 1 << 12
    /// Write-1-to-clear bits.
    public static let clearOnWrite: UInt32 = hostSystemError | eventInterrupt | portChangeDetect | saveRestoreError
}

/// CRCR bits (§5.4.5).
public enum XHCICommandRingBit {
    public static let ringCycleState: UInt64 = 1 << 0
    public static let commandStop: UInt64 = 1 << 1
    public static let commandAbort: UInt64 = 1 << 2
    public static let commandRingRunning: UInt64 = 1 << 3
    public static let pointerMask: UInt64 = ~0x3f
}

/// PORTSC bits (§5.4.8).
public enum XHCIPortBit {
    public static let currentConnect: UInt32 = 1 << 0
    public static let enabled: UInt32 = 1 << 1
    public static let overCurrentActive: UInt32 = 1 << 3
    public static let reset: UInt32 = 1 << 4
    public static let linkStateShift: UInt32 = 5
    public static let linkStateMask: UInt32 = 0xf << 5
    public static let power: UInt32 = 1 << 9
    public static let speedShift: UInt32 = 10
    public static let speedMask: UInt32 = 0xf << 10
    public static let indicatorMask: UInt32 = 3 << 14
    public static let linkStateWriteStrobe: UInt32 = 1 << 16
    public static let connectChange: UInt32 = 1 << 17
    public static let enableChange: UInt32 = 1 << 18
    public static let warmResetChange: UInt32 = 1 << 19
    public static let overCurrentChange: UInt32 = 1 << 20
    public static let resetChange: UInt32 = 1 << 21
    public static let linkStateChange: UInt32 = 1 << 22
    public static let configErrorChange: UInt32 = 1 << 23
    public static let coldAttachStatus: UInt32 = 1 << 24
    public static let wakeOnConnect: UInt32 = 1 << 25
    public static let wakeOnDisconnect: UInt32 = 1 << 26
    public static let wakeOnOverCurrent: UInt32 = 1 << 27
    public static let deviceRemovable: UInt32 = 1 << 30
    public static let warmReset: UInt32 = 1 << 31
    /// The change bits (RW1C); any of them set raises a Port Status Change Event (§4.19.2).
    public static let changeBits: UInt32 = connectChange | enableChange | warmResetChange | overCurrentChange
        | resetChange | linkStateChange | configErrorChange
    public static let wakeBits: UInt32 = wakeOnConnect | wakeOnDisconnect | wakeOnOverCurrent
}

/// Port link states (PLS, §5.4.8 Table 5-27).
public enum XHCILinkState {
    public static let u0: UInt32 = 0
    public static let u3: UInt32 = 3
    public static let disabled: UInt32 = 4
    public static let rxDetect: UInt32 = 5
    public static let polling: UInt32 = 7
    public static let resume: UInt32 = 15
}

/// Interrupter registers relative to the interrupter's set (§5.5.2).
public enum XHCIInterrupterRegister {
    public static let management: UInt64 = 0x00
    public static let moderation: UInt64 = 0x04
    public static let tableSize: UInt64 = 0x08
    public static let tableBase: UInt64 = 0x10
    public static let dequeuePointer: UInt64 = 0x18
}

/// Port speed IDs of the default Protocol Speed ID mapping (§7.2.2.1.1).
extension USBSpeed {
    public var xhciSpeedID: UInt32 {
        switch self {
        case .full: return 1
        case .low: return 2
        case .high: return 3
        case .superSpeed: return 4
        }
    }
}
