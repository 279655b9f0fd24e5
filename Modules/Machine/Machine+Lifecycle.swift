import Foundation
import Memory

/// The machine lifecycle (`DeviceLifecycle`, docs/architecture.md): one list, `lifecycle`, in
/// build order, and one loop over it for each phase. Nothing here knows a device type.
extension Machine {
    /// The boot loop: devices whose addresses come from the program (HTIF) connect now.
    func bootDevices(symbols: [String: UInt64]) throws(MachineError) {
        for (index, participant) in lifecycle.enumerated() {
            do { try participant.boot(symbols: symbols) }
            catch let error as MachineError { throw error }
            catch { throw MachineError(file: board.sourcePath, device: lifecycleNames[index], reason: "\(error)", underlying: error) }
        }
    }

    /// A guest-requested reset (sifive_test 0x7777, SBI SRST through it): the reset loop puts
    /// every device back to its power-on state, the loaded images are written again and every
    /// hart restarts at the entry point. Afterwards the machine is as `boot` left it, except
    /// for RAM outside the images, which keeps what the guest wrote (as on QEMU).
    public func reboot() {
        for participant in lifecycle { participant.reset() }
        for image in bootLayout.images { _ = space.dma.write(image.address, bytes: image.bytes) }
        resetHarts()
    }

    /// The poll loop: every lifecycle participant, in build order.
    func pollDevices() {
        for participant in lifecycle { participant.poll() }
        // --record/--replay: inputs are journaled with the poll that delivered them.
        journal?.devicesPolled()
        // A RAM region went away (a RAM-backed BAR moved or was disabled): drop the harts' TLB
        // entries for it. Between slices no hart is inside a block, so dropping blocks is safe.
        if space.ramUnmaps != flushedRAMUnmaps {
            flushedRAMUnmaps = space.ramUnmaps
            for hart in harts { hart.flushTranslations() }
        }
    }

    /// The sleep loop: every hart is in WFI, so sleep until the earliest event a participant
    /// waits for (or briefly, to poll input), and never past the run's deadline. Under the
    /// virtual clock only when no participant waits for anything (`idle(deadline:)`): then the
    /// machine waits for input in host time.
    func sleepUntilNextEvent(deadline: UInt64?) {
        var nanoseconds = Machine.longestIdleNanoseconds
        if !timebase.isVirtual {
            for participant in lifecycle {
                if let next = participant.nanosecondsUntilNextEvent() { nanoseconds = min(nanoseconds, next) }
            }
        }
        if let deadline {
            let now = DispatchTime.now().uptimeNanoseconds
            nanoseconds = min(nanoseconds, deadline > now ? deadline - now : 0)
        }
        guard nanoseconds > 0 else { return }
        var request = timespec(tv_sec: Int(nanoseconds / 1_000_000_000), tv_nsec: Int(nanoseconds % 1_000_000_000))
        nanosleep(&request, nil)
    }

    // MARK: Snapshots (Machine+Snapshot.swift writes these with RAM, harts and the clock)

    /// The save loop: every lifecycle participant's state, in lifecycle order (empty for one
    /// that saves nothing).
    public func saveDeviceStates() -> [[UInt8]] {
        lifecycle.map { participant in
            var writer = DeviceStateWriter()
            participant.save(to: &writer)
            return writer.bytes
        }
    }

    /// The restore loop: gives each participant what `saveDeviceStates` saved for it.
    /// - Throws: when the count does not match this machine or a participant refuses its bytes
    ///   (or leaves some unread).
    public func restoreDeviceStates(_ states: [[UInt8]]) throws(MachineError) {
        guard states.count == lifecycle.count else {
            throw MachineError(file: board.sourcePath, reason: "saved state holds \(states.count) devices, this machine has \(lifecycle.count)")
        }
        for (index, participant) in lifecycle.enumerated() {
            var reader = DeviceStateReader(states[index])
            do {
                try participant.restore(from: &reader)
                guard reader.isAtEnd else { throw DeviceStateError.mismatch("\(states[index].count) bytes, not all read") }
            } catch {
                throw MachineError(file: board.sourcePath, device: lifecycleNames[index], reason: "\(error)", underlying: error)
            }
        }
    }
}
