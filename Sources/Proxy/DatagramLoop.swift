import CSystemShim
import Foundation
import NIOCore
import Synchronization

/// The UDP data path's thread: one epoll set holding every UDP listener's socket and every
/// session's upstream UDP socket, read and written without a NIO channel, pipeline or task per
/// datagram. It is a NIO `EventLoop` (tasks, timers, futures), so the sessions of UDP listeners
/// run here with the same code as sessions on NIO's loops; their WebSocket and stream hops are
/// NIO channels on NIO's loops, whose events come back here as tasks.
///
/// A wake-up costs one `epoll_wait` and, per ready socket, a `recvmmsg` per 16 datagrams: what
/// it reads is handled at once and what that sends leaves with one `sendmmsg` per socket.
/// Other threads hand it work through a queue and an eventfd; timers are a heap kept by the
/// thread itself.
public final class DatagramLoop: EventLoop, @unchecked Sendable {
  /// The process's UDP data path, started on first use (like NIO's singleton group).
  public static func shared() throws -> DatagramLoop {
    try sharedLoop.withLock { loop in
      if let loop, !loop.stopped.load(ordering: .acquiring) { return loop }
      // First use, or someone shut the last one down: a new one.
      let made = try DatagramLoop(name: "l7mp-udp")
      loop = made
      return made
    }
  }
  private static let sharedLoop = Mutex<DatagramLoop?>(nil)

  private let epollFD: CInt
  private let wakeFD: CInt
  private let threadID = Atomic<UInt>(0)
  private let stopped = Atomic<Bool>(false)

  /// Work from other threads (and from this one, run after the current wake-up).
  private let inbox = Mutex<[@Sendable () -> Void]>([])
  private let inboxFull = Atomic<Bool>(false)
  private let timerIDs = Atomic<UInt64>(0)

  // Confined to the loop's thread:
  private var timers = TimerHeap()
  /// Sockets that may hold more datagrams after their last turn.
  private var unfinished: [CInt] = []
  private var shutdownCallbacks: [(DispatchQueue, @Sendable (Error?) -> Void)] = []
  /// The write batch, idle sweeper and sockets of this loop (made with it).
  private(set) var io: EventLoopIO!
  private var sockets: DatagramSockets!

  /// Starts a loop on a thread of its own named `name`.
  public init(name: String) throws {
    let epoll = l7mp_epoll_create()
    guard epoll >= 0 else { throw IOError(errnoCode: -epoll, reason: "epoll_create1") }
    let wake = l7mp_eventfd()
    guard wake >= 0 else {
      _ = Glibc.close(epoll)
      throw IOError(errnoCode: -wake, reason: "eventfd")
    }
    let rc = l7mp_epoll_add(epoll, wake)
    guard rc == 0 else {
      _ = Glibc.close(epoll)
      _ = Glibc.close(wake)
      throw IOError(errnoCode: -rc, reason: "epoll_ctl")
    }
    epollFD = epoll
    wakeFD = wake
    io = EventLoopIO(datagramLoop: self)
    sockets = io.existingSockets
    let started = DispatchSemaphore(value: 0)
    let thread = Thread { [self] in
      _ = l7mp_set_thread_name(name)
      threadID.store(UInt(pthread_self()), ordering: .releasing)
      started.signal()
      run()
    }
    thread.start()
    started.wait()
  }

  // MARK: EventLoop

  public var inEventLoop: Bool {
    UInt(pthread_self()) == threadID.load(ordering: .relaxed)
  }

  public func execute(_ task: @escaping @Sendable () -> Void) {
    let first = inbox.withLock { q in
      q.append(task)
      inboxFull.store(true, ordering: .releasing)
      return q.count == 1
    }
    // The loop checks the queue after every wake-up: only a first task has to wake it.
    if first && !inEventLoop { l7mp_eventfd_signal(wakeFD) }
  }

  public func scheduleTask<T>(deadline: NIODeadline, _ task: @escaping @Sendable () throws -> T)
    -> Scheduled<T>
  {
    let promise = makePromise(of: T.self)
    let id = timerIDs.wrappingAdd(1, ordering: .relaxed).newValue
    let run: () -> Void = {
      do { promise.assumeIsolatedUnsafeUnchecked().succeed(try task()) } catch {
        promise.fail(error)
      }
    }
    if inEventLoop {
      timers.insert(id: id, deadline: deadline, run)
    } else {
      let box = UnsafeTransfer(run)
      execute { [self] in timers.insert(id: id, deadline: deadline, box.value) }
    }
    return Scheduled(promise: promise) { [self] in
      if inEventLoop { timers.cancel(id) } else { execute { [self] in timers.cancel(id) } }
    }
  }

  public func scheduleTask<T>(in delay: TimeAmount, _ task: @escaping @Sendable () throws -> T)
    -> Scheduled<T>
  {
    scheduleTask(deadline: .now() + delay, task)
  }

  /// Stops the thread after the current wake-up: every socket closes, tasks queued by then run.
  public func shutdownGracefully(
    queue: DispatchQueue, _ callback: @escaping @Sendable (Error?) -> Void
  ) {
    execute { [self] in
      shutdownCallbacks.append((queue, callback))
      stopped.store(true, ordering: .releasing)
    }
  }

  public var description: String { "DatagramLoop" }

  // MARK: the thread

  private func run() {
    var fds = [CInt](repeating: 0, count: 64)
    while !stopped.load(ordering: .acquiring) {
      let n = fds.withUnsafeMutableBufferPointer { fds in
        l7mp_epoll_wait(epollFD, fds.baseAddress, CInt(fds.count), waitTimeout(since: io.wakeTime))
      }
      let now = NIODeadline.now()
      io.wakeTime = now
      if n < 0 {
        // Not expected (EINTR is not an error here); a pause keeps a persistent failure from
        // spinning the thread and flooding the log.
        proxyLogger.error(
          "UDP data path: epoll_wait failed",
          metadata: ["error": "\(IOError(errnoCode: -n, reason: "epoll_wait"))"])
        usleep(10_000)
        runInbox()
        runDueTimers(now)
        continue
      }
      // Sockets left with datagrams after their turn get another, after everyone's.
      if !unfinished.isEmpty {
        let again = unfinished
        unfinished = []
        for fd in again where sockets.readable(fd) { unfinished.append(fd) }
      }
      for i in 0..<Int(n) {
        let fd = fds[i]
        if fd == wakeFD {
          l7mp_eventfd_drain(wakeFD)
        } else if sockets.readable(fd) {
          unfinished.append(fd)
        }
      }
      runInbox()
      runDueTimers(now)
    }
    sockets.closeAll()
    runInbox()
    _ = Glibc.close(epollFD)
    _ = Glibc.close(wakeFD)
    for (queue, callback) in shutdownCallbacks { queue.async { callback(nil) } }
  }

  /// Milliseconds until the next timer (rounded up), 0 with work queued or sockets unfinished,
  /// -1 with neither. The
  /// time is the last wake-up's (a wake-up's work takes microseconds; the timers it delays are
  /// idle sweeps and retry pauses of milliseconds).
  private func waitTimeout(since now: NIODeadline?) -> CInt {
    if !unfinished.isEmpty || inboxFull.load(ordering: .acquiring) { return 0 }
    guard let deadline = timers.nextDeadline else { return -1 }
    let nanoseconds = (deadline - (now ?? .now())).nanoseconds
    if nanoseconds <= 0 { return 0 }
    return CInt(min((nanoseconds + 999_999) / 1_000_000, Int64(CInt.max)))
  }

  private func runInbox() {
    guard inboxFull.load(ordering: .acquiring) else { return }
    let tasks = inbox.withLock { q in
      inboxFull.store(false, ordering: .releasing)
      let tasks = q
      q.removeAll(keepingCapacity: true)
      return tasks
    }
    for task in tasks { task() }
  }

  private func runDueTimers(_ now: NIODeadline) {
    while let task = timers.popDue(now) { task() }
  }

  // MARK: sockets

  /// Watches `fd` for datagrams (they go to `io.readable`).
  func watch(_ fd: CInt) throws {
    let rc = l7mp_epoll_add(epollFD, fd)
    guard rc == 0 else { throw IOError(errnoCode: -rc, reason: "epoll_ctl") }
  }

  /// Reads socket `fd` of `link`, a UDP hop of a session on one of NIO's loops (any thread):
  /// its datagrams go to the link's loop.
  func adopt(_ fd: CInt, for link: UpstreamLink) {
    execute { [self] in sockets.adoptRemote(fd, for: link) }
  }

  /// Closes socket `fd` of a session on another loop (any thread; it sends nothing more).
  func release(_ fd: CInt) {
    execute { [self] in sockets.closeRemote(fd) }
  }

  /// Stops watching `fd` (before it closes).
  func unwatch(_ fd: CInt) { _ = l7mp_epoll_remove(epollFD, fd) }
}

/// A value handed to the loop's thread that is only ever used there.
private struct UnsafeTransfer<Value>: @unchecked Sendable {
  let value: Value
  init(_ value: Value) { self.value = value }
}

/// The loop's timers: a binary min-heap of deadlines (ties in the order scheduled). A cancelled
/// timer stays in the heap, marked, until it comes up.
private struct TimerHeap {
  private struct Entry {
    let deadline: NIODeadline
    let id: UInt64
    let task: () -> Void
    func precedes(_ other: Entry) -> Bool {
      deadline < other.deadline || (deadline == other.deadline && id < other.id)
    }
  }
  private var heap: [Entry] = []
  private var cancelled = Set<UInt64>()
  private var cancelledCount = 0

  var nextDeadline: NIODeadline? {
    mutating get {
      dropCancelled()
      return heap.first?.deadline
    }
  }

  mutating func insert(id: UInt64, deadline: NIODeadline, _ task: @escaping () -> Void) {
    heap.append(Entry(deadline: deadline, id: id, task: task))
    var i = heap.count - 1
    while i > 0 {
      let parent = (i - 1) / 2
      guard heap[i].precedes(heap[parent]) else { break }
      heap.swapAt(i, parent)
      i = parent
    }
  }

  /// Marks timer `id` (if it is still waiting) so that it never runs.
  mutating func cancel(_ id: UInt64) {
    if heap.contains(where: { $0.id == id }), cancelled.insert(id).inserted { cancelledCount += 1 }
  }

  /// The next timer due by `now`, removed.
  mutating func popDue(_ now: NIODeadline) -> (() -> Void)? {
    dropCancelled()
    guard let top = heap.first, top.deadline <= now else { return nil }
    removeTop()
    return top.task
  }

  private mutating func dropCancelled() {
    while cancelledCount > 0, let top = heap.first, cancelled.remove(top.id) != nil {
      cancelledCount -= 1
      removeTop()
    }
  }

  private mutating func removeTop() {
    let last = heap.removeLast()
    guard !heap.isEmpty else { return }
    heap[0] = last
    var i = 0
    while true {
      let l = 2 * i + 1
      let r = l + 1
      var m = i
      if l < heap.count && heap[l].precedes(heap[m]) { m = l }
      if r < heap.count && heap[r].precedes(heap[m]) { m = r }
      if m == i { return }
      heap.swapAt(i, m)
      i = m
    }
  }
}
