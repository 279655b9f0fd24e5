#if canImport(Glibc)
import Glibc
#endif

/// The device's interrupts as VFIO delivers them: one eventfd per vector, routed with
/// VFIO_DEVICE_SET_IRQS for the mode the guest enabled in the emulated capabilities (MSI-X,
/// MSI, or INTx when neither is on, PCI 3.0 §6.8.1.3 / §6.8.2.3). `poll` drains the eventfds on
/// the machine thread and reports each vector that fired; the function turns it into the MSI
/// write the guest programmed, or an INTx level.
final class VFIOInterrupts {
    enum Mode: Equatable {
        case none
        case intx
        case msi(vectors: Int)
        case msix(vectors: Int)

        var index: VFIOIRQIndex? {
            switch self {
            case .none: return nil
            case .intx: return .intx
            case .msi: return .msi
            case .msix: return .msix
            }
        }
    }

    private let device: VFIODevice
    private(set) var mode: Mode = .none
    private var eventfds: [Int32] = []
    /// One pollfd per eventfd, so a poll with nothing pending is one system call, whatever the
    /// vector count (an NVMe function routes 65).
    private var pollfds: UnsafeMutablePointer<pollfd>
    private var pollCapacity = 0

    init(device: VFIODevice) {
        self.device = device
        pollfds = .allocate(capacity: 1)
    }

    deinit {
        release()
        pollfds.deallocate()
    }

    /// Switches to `mode`: disables the current index, then routes the new one's vectors to
    /// fresh eventfds. A kernel refusal leaves the mode at `.none` and is returned (the caller
    /// reports it; the guest simply gets no interrupts, as with a broken device).
    func set(_ wanted: Mode) -> String? {
        guard wanted != mode else { return nil }
        if let index = mode.index { _ = device.setIRQs(index, eventfds: []) }
        release()
        mode = .none
        guard let index = wanted.index else { return nil }
        let count: Int
        switch wanted {
        case .intx: count = 1
        case let .msi(vectors), let .msix(vectors): count = vectors
        case .none: count = 0
        }
        guard count > 0, count <= (device.irqCounts[index] ?? 0) else {
            return "\(wanted): the device offers \(device.irqCounts[index] ?? 0) vectors of that kind"
        }
        for _ in 0..<count {
            switch device.kernel.eventfd() {
            case let .success(fd): eventfds.append(fd)
            case let .failure(reason):
                release()
                return "eventfd: \(reason)"
            }
        }
        if let reason = device.setIRQs(index, eventfds: eventfds) {
            release()
            return "VFIO_DEVICE_SET_IRQS (\(wanted)): \(reason)"
        }
        if eventfds.count > pollCapacity {
            pollfds.deallocate()
            pollfds = .allocate(capacity: eventfds.count)
            pollCapacity = eventfds.count
        }
        for (index, fd) in eventfds.enumerated() { pollfds[index] = pollfd(fd: fd, events: Int16(POLLIN), revents: 0) }
        mode = wanted
        return nil
    }

    private func release() {
        for fd in eventfds { device.kernel.close(fd) }
        eventfds.removeAll()
    }

    /// Calls `fired` with each vector whose eventfd counted since the last poll.
    @inline(__always)
    func poll(_ fired: (Int) -> Void) {
        let count = eventfds.count
        guard count > 0, device.kernel.pollReadable(pollfds, count: count) > 0 else { return }
        for vector in 0..<count where pollfds[vector].revents & Int16(POLLIN) != 0 {
            pollfds[vector].revents = 0
            if device.kernel.takeEvents(eventfds[vector]) != 0 { fired(vector) }
        }
    }
}
