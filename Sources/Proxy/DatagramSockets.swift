import CSystemShim
import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// What the proxy keeps per event loop: the write batch its UDP sockets and channels share, the
/// idle sweeper of its sessions, and on the UDP data path (`DatagramLoop`) its UDP sockets.
///
/// Confined to its event loop: `of(_:)` must be called there.
final class EventLoopIO: @unchecked Sendable {
  let eventLoop: any EventLoop
  let batch = WriteBatch()
  let sweeper: IdleSweeper
  /// The loop's UDP sockets: on a `DatagramLoop` only (nil on NIO's loops, where UDP hops are
  /// NIO channels).
  private(set) var existingSockets: DatagramSockets?
  /// When the `DatagramLoop` last woke (nil on NIO's loops): what happens during one wake-up
  /// is stamped with it, one clock read per wake-up instead of one per datagram.
  var wakeTime: NIODeadline?

  /// The time to stamp activity with.
  var now: NIODeadline { wakeTime ?? .now() }

  private static let registry = Mutex<[ObjectIdentifier: EventLoopIO]>([:])

  private init(eventLoop: any EventLoop) {
    self.eventLoop = eventLoop
    sweeper = IdleSweeper(eventLoop: eventLoop)
  }

  /// The UDP data path's state (made with the loop).
  init(datagramLoop: DatagramLoop) {
    eventLoop = datagramLoop
    sweeper = IdleSweeper(eventLoop: datagramLoop)
    existingSockets = DatagramSockets(loop: datagramLoop, batch: batch)
  }

  /// The loop's state, made on first use. The entry holds the loop, so its identity cannot be
  /// reused by another loop while the entry exists.
  static func of(_ eventLoop: any EventLoop) -> EventLoopIO {
    eventLoop.preconditionInEventLoop()
    if let loop = eventLoop as? DatagramLoop { return loop.io }
    return registry.withLock { r in
      if let io = r[ObjectIdentifier(eventLoop)] { return io }
      let io = EventLoopIO(eventLoop: eventLoop)
      r[ObjectIdentifier(eventLoop)] = io
      return io
    }
  }

  /// Upstream UDP sockets open on this loop.
  var datagramSocketCount: Int { existingSockets?.count ?? 0 }
}

/// UDP sockets without a NIO channel each, on the UDP data path (`DatagramLoop`): the UDP
/// listeners' sockets and the sessions' upstream hops. A session's UDP hop is a connected socket
/// and an entry in this table, so an idle session costs a descriptor and a few hundred bytes
/// instead of a channel, a pipeline and a 64 KiB receive buffer.
///
/// The loop's epoll set reports a socket readable; it is read with `recvmmsg` into one buffer
/// shared by all of them, and the datagrams are handed on as slices of it. See
/// `Sources/CSystemShim`.
///
/// Confined to its loop.
final class DatagramSockets {
  /// Datagrams read per `recvmmsg`, each into a slot that fits any UDP payload.
  static let datagramsPerRead = 16
  static let slotSize = 65536
  /// Reads of one socket per turn before the others get theirs (64 datagrams).
  static let readsPerTurn = 4

  private unowned let loop: DatagramLoop
  let batch: WriteBatch
  private var links = FDTable<UpstreamLink>()
  /// UDP hops of sessions on NIO's loops (`DatagramLoop.adopt`).
  private var remote = FDTable<UpstreamLink>()
  private var listeners = FDTable<UDPListenerHandler>()
  private var buffer: ByteBuffer
  private var lengths = [CInt](repeating: 0, count: DatagramSockets.datagramsPerRead)
  private var peers = [l7mp_peer](repeating: l7mp_peer(), count: DatagramSockets.datagramsPerRead)

  /// Upstream sockets open: of sessions on this loop, of sessions on NIO's loops.
  var count: Int { links.count }
  var remoteCount: Int { remote.count }

  fileprivate init(loop: DatagramLoop, batch: WriteBatch) {
    self.loop = loop
    self.batch = batch
    buffer = ByteBufferAllocator().buffer(capacity: Self.datagramsPerRead * Self.slotSize)
  }

  /// A connected, non-blocking UDP socket to `address` (any thread).
  static func openConnected(_ address: SocketAddress) throws -> CInt {
    let fd = address.withSockAddr { pointer, length in
      l7mp_udp_upstream_open(pointer, socklen_t(length))
    }
    guard fd >= 0 else { throw IOError(errnoCode: -fd, reason: "UDP upstream \(address)") }
    return fd
  }

  /// A connected, non-blocking UDP socket to `address` whose datagrams go to `link`.
  func open(_ address: SocketAddress, for link: UpstreamLink) throws -> CInt {
    let fd = try Self.openConnected(address)
    do {
      try loop.watch(fd)
    } catch {
      _ = Glibc.close(fd)
      throw error
    }
    links[fd] = link
    return fd
  }

  /// Socket `fd` of a session on another loop: its datagrams go to `link` on that loop.
  func adoptRemote(_ fd: CInt, for link: UpstreamLink) {
    do {
      try loop.watch(fd)
    } catch {
      _ = Glibc.close(fd)
      let code = (error as? IOError)?.errnoCode ?? EINVAL
      link.eventLoop.execute { link.receiveFailed(errno: code) }
      return
    }
    remote[fd] = link
  }

  /// Closes the socket of a session on another loop (it closed the hop).
  func closeRemote(_ fd: CInt) {
    guard remote.remove(fd) != nil else { return }
    loop.unwatch(fd)
    _ = Glibc.close(fd)
  }

  /// The loop stopped: every socket closes.
  func closeAll() {
    for fd in remote.descriptors { closeRemote(fd) }
    for fd in links.descriptors { close(fd) }
    for fd in listeners.descriptors { removeListener(fd) }
  }

  /// A UDP listener's bound socket, now owned here: its datagrams go to `handler`.
  func addListener(_ fd: CInt, handler: UDPListenerHandler) throws {
    try loop.watch(fd)
    listeners[fd] = handler
  }

  /// Closes a listener's socket.
  func removeListener(_ fd: CInt) {
    guard let handler = listeners.remove(fd) else { return }
    handler.socketClosed()
    loop.unwatch(fd)
    _ = Glibc.close(fd)
  }

  /// Closes an upstream socket.
  func close(_ fd: CInt) {
    guard links.remove(fd) != nil else { return }
    loop.unwatch(fd)
    _ = Glibc.close(fd)
  }

  /// The epoll set found `fd` readable: reads it for one turn. True if it may hold more (the
  /// loop comes back to it after the other sockets' turns: the epoll set is edge-triggered and
  /// will not report it again).
  func readable(_ fd: CInt) -> Bool {
    if links[fd] != nil { return drain(fd) }
    if remote[fd] != nil { return drainRemote(fd) }
    if listeners[fd] != nil { return drainListener(fd) }
    // Not ours any more (closed during this wake-up, its number reused elsewhere): ignored.
    return false
  }

  /// Sends `datagrams` (all for socket `fd`, at most 64) with one `sendmmsg`, after the write
  /// batch collected them. Failures go to the link: a refused socket (an ICMP error came back)
  /// is a disconnect; a full socket buffer drops the rest (counted).
  func send(_ datagrams: ArraySlice<WriteBatch.Datagram>, fd: CInt) {
    guard let link = links[fd] else { return }
    var remaining = datagrams[...]
    while !remaining.isEmpty {
      let sent = Self.sendBatch(remaining, fd: fd)
      if sent < 0 {
        link.sendFailed(errno: -sent, dropped: remaining.count)
        return
      }
      remaining = remaining.dropFirst(Int(sent))
    }
  }

  /// One datagram on socket `fd`, not collected in a batch, from the thread of `link`'s session.
  static func sendNow(_ buffer: ByteBuffer, fd: CInt, link: UpstreamLink) {
    let sent = buffer.withUnsafeReadableBytes { bytes in
      withUnsafeTemporaryAllocation(of: UnsafeRawPointer?.self, capacity: 1) { datas in
        withUnsafeTemporaryAllocation(of: Int.self, capacity: 1) { lengths in
          datas[0] = UnsafeRawPointer(bytes.baseAddress)
          lengths[0] = bytes.count
          return l7mp_send_batch(fd, datas.baseAddress, lengths.baseAddress, 1)
        }
      }
    }
    if sent < 0 { link.sendFailed(errno: -sent, dropped: 1) }
  }

  private static func sendBatch(_ datagrams: ArraySlice<WriteBatch.Datagram>, fd: CInt) -> CInt {
    let count = min(datagrams.count, 64)
    return withUnsafeTemporaryAllocation(of: UnsafeRawPointer?.self, capacity: count) { datas in
      withUnsafeTemporaryAllocation(of: Int.self, capacity: count) { lengths in
        for (i, d) in datagrams.prefix(count).enumerated() {
          // The pointer outlives the closure that yields it, but not the buffer: the batch
          // holds every buffer until this call returns, and a ByteBuffer's bytes do not move
          // while it is held and not written to.
          d.buffer.withUnsafeReadableBytes { bytes in
            datas[i] = UnsafeRawPointer(bytes.baseAddress)
            lengths[i] = bytes.count
          }
        }
        return l7mp_send_batch(fd, datas.baseAddress, lengths.baseAddress, CInt(count))
      }
    }
  }

  /// One `recvmmsg` on socket `fd` into the shared buffer (slot i holds datagram i, of
  /// `lengths[i]` bytes, from `peers[i]` when asked): the number read, or -errno.
  fileprivate func receive(_ fd: CInt, withPeers: Bool) -> CInt {
    buffer.clear()  // allocates a new buffer only if a slice of the last one is still held
    let n = buffer.withUnsafeMutableWritableBytes { bytes in
      lengths.withUnsafeMutableBufferPointer { lengths in
        peers.withUnsafeMutableBufferPointer { peers in
          l7mp_recv_from_batch(
            fd, bytes.baseAddress!.assumingMemoryBound(to: UInt8.self), Self.slotSize,
            CInt(Self.datagramsPerRead), lengths.baseAddress,
            withPeers ? peers.baseAddress : nil)
        }
      }
    }
    if n >= 0 { buffer.moveWriterIndex(to: Self.datagramsPerRead * Self.slotSize) }
    return n
  }

  /// Reads socket `fd` until it is empty, its link closes, or `readsPerTurn` reads are done
  /// (then returns true: it may hold more). Each `recvmmsg` batch is handed on as slices of the
  /// shared buffer and the replies it causes are flushed before the next batch reuses it.
  private func drain(_ fd: CInt) -> Bool {
    guard let link = links[fd] else { return false }
    for _ in 0..<Self.readsPerTurn {
      guard links[fd] === link else { return false }
      let n = receive(fd, withPeers: false)
      if n < 0 {
        if -n != EAGAIN && -n != EWOULDBLOCK { link.receiveFailed(errno: -n) }
        return false
      }
      batch.beginRead()
      for i in 0..<Int(n) {
        guard links[fd] === link else { break }
        link.received(buffer.getSlice(at: i * Self.slotSize, length: Int(lengths[i]))!)
      }
      batch.endRead()
      if n < Self.datagramsPerRead { return false }
    }
    return true
  }
}

extension DatagramSockets {
  /// Reads socket `fd` of a session on another loop like `drain`: the datagrams, copied out of
  /// the shared buffer, go to that loop as one task per `recvmmsg`.
  fileprivate func drainRemote(_ fd: CInt) -> Bool {
    guard let link = remote[fd] else { return false }
    for _ in 0..<Self.readsPerTurn {
      let n = receive(fd, withPeers: false)
      if n < 0 {
        let code = -n
        if code != EAGAIN && code != EWOULDBLOCK {
          link.eventLoop.execute { link.receiveFailed(errno: code) }
        }
        return false
      }
      let copies = (0..<Int(n)).map { i in
        ByteBuffer(
          bytes: buffer.getSlice(at: i * Self.slotSize, length: Int(lengths[i]))!.readableBytesView)
      }
      link.eventLoop.execute { for datagram in copies { link.received(datagram) } }
      if n < Self.datagramsPerRead { return false }
    }
    return true
  }
}

extension DatagramSockets {
  /// Reads listener socket `fd` like `drain`: each datagram, with the peer it came from, to the
  /// listener's handler; what they cause is sent when each batch is done.
  private func drainListener(_ fd: CInt) -> Bool {
    guard let handler = listeners[fd] else { return false }
    for _ in 0..<Self.readsPerTurn {
      guard listeners[fd] === handler else { return false }
      let n = receive(fd, withPeers: true)
      if n < 0 {
        if -n != EAGAIN && -n != EWOULDBLOCK {
          // An unconnected socket reports nothing of earlier sends; anything else is logged.
          proxyLogger.debug(
            "UDP listener read failed",
            metadata: ["error": "\(IOError(errnoCode: -n, reason: "recvmmsg"))"])
        }
        return false
      }
      batch.beginRead()
      for i in 0..<Int(n) {
        guard listeners[fd] === handler else { break }
        handler.handle(
          buffer.getSlice(at: i * Self.slotSize, length: Int(lengths[i]))!, from: UDPPeer(peers[i]))
      }
      batch.endRead()
      if n < Self.datagramsPerRead { return false }
    }
    return true
  }

  /// Replies collected by the write batch for listener socket `fd`, at most 64, with one
  /// `sendmmsg`. A full socket buffer drops the rest (counted by the listener).
  static func sendReplies(_ replies: ArraySlice<WriteBatch.Reply>, fd: CInt) {
    guard let first = replies.first else { return }
    var remaining = replies[...]
    while !remaining.isEmpty {
      let count = min(remaining.count, 64)
      let sent = withUnsafeTemporaryAllocation(of: UnsafeRawPointer?.self, capacity: count) {
        datas in
        withUnsafeTemporaryAllocation(of: Int.self, capacity: count) { lengths in
          withUnsafeTemporaryAllocation(of: l7mp_peer.self, capacity: count) { peers in
            for (i, r) in remaining.prefix(count).enumerated() {
              // As in `sendBatch`: the batch holds each buffer until this call returns.
              r.buffer.withUnsafeReadableBytes { bytes in
                datas[i] = UnsafeRawPointer(bytes.baseAddress)
                lengths[i] = bytes.count
              }
              peers[i] = r.peer.raw
            }
            return l7mp_send_to_batch(
              fd, first.handler.family, datas.baseAddress, lengths.baseAddress,
              peers.baseAddress, CInt(count))
          }
        }
      }
      if sent < 0 {
        first.handler.sendFailed(errno: -sent, dropped: remaining.count)
        return
      }
      remaining = remaining.dropFirst(Int(sent))
    }
  }
}

/// Objects by descriptor: an array indexed by the descriptor's number (descriptors are small
/// and reused lowest first), so a lookup per datagram costs no hashing.
struct FDTable<Value: AnyObject> {
  private var slots: [Value?] = []
  private(set) var count = 0

  subscript(fd: CInt) -> Value? {
    get { fd >= 0 && Int(fd) < slots.count ? slots[Int(fd)] : nil }
    set {
      let i = Int(fd)
      guard i >= 0 else { return }
      if i >= slots.count {
        guard newValue != nil else { return }
        slots.append(
          contentsOf: repeatElement(nil, count: max(i + 1, slots.count * 2) - slots.count))
      }
      if slots[i] == nil && newValue != nil { count += 1 }
      if slots[i] != nil && newValue == nil { count -= 1 }
      slots[i] = newValue
    }
  }

  /// Removes and returns the entry for `fd`.
  mutating func remove(_ fd: CInt) -> Value? {
    let value = self[fd]
    self[fd] = nil
    return value
  }

  /// Every descriptor with an entry.
  var descriptors: [CInt] { slots.indices.filter { slots[$0] != nil }.map { CInt($0) } }
}
