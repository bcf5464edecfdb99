import CSystemShim
import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// What the proxy keeps per event loop: the write batch its UDP listeners and upstream sockets
/// share, the idle sweeper of its sessions, and (made when the first UDP upstream opens) the
/// loop's upstream UDP sockets.
///
/// Confined to its event loop: `of(_:)` must be called there.
final class EventLoopIO: @unchecked Sendable {
  let eventLoop: any EventLoop
  let batch = WriteBatch()
  let sweeper: IdleSweeper
  private var datagramSockets: DatagramSockets?

  private static let registry = Mutex<[ObjectIdentifier: EventLoopIO]>([:])

  private init(eventLoop: any EventLoop) {
    self.eventLoop = eventLoop
    sweeper = IdleSweeper(eventLoop: eventLoop)
  }

  /// The loop's state, made on first use. The entry holds the loop, so its identity cannot be
  /// reused by another loop while the entry exists.
  static func of(_ eventLoop: any EventLoop) -> EventLoopIO {
    eventLoop.preconditionInEventLoop()
    return registry.withLock { r in
      if let io = r[ObjectIdentifier(eventLoop)] { return io }
      let io = EventLoopIO(eventLoop: eventLoop)
      r[ObjectIdentifier(eventLoop)] = io
      return io
    }
  }

  /// Upstream UDP sockets open on this loop.
  var datagramSocketCount: Int { datagramSockets?.count ?? 0 }

  /// The loop's socket table if a UDP listener made one here (nil on other loops).
  var existingSockets: DatagramSockets? { datagramSockets }

  /// The loop's UDP sockets (set up on first use: a signalfd watched by NIO).
  func sockets() throws -> DatagramSockets {
    if let datagramSockets { return datagramSockets }
    let made = try DatagramSockets(io: self)
    datagramSockets = made
    return made
  }

  /// The loop's signalfd channel closed (the loop is shutting down): its sockets close (their
  /// signals name a thread that is ending) and the loop is forgotten.
  fileprivate func upstreamsClosed() {
    datagramSockets?.closeAll()
    datagramSockets = nil
    Self.registry.withLock { r in
      if r[ObjectIdentifier(eventLoop)] === self { r[ObjectIdentifier(eventLoop)] = nil }
    }
  }
}

/// Upstream UDP sockets without a NIO channel each: a session's UDP hop is a connected socket and
/// an entry in this table, so an idle session costs a descriptor and a few hundred bytes instead
/// of a channel, a pipeline and a 64 KiB receive buffer.
///
/// Readiness comes from the kernel as a real-time signal per arriving datagram, carrying the
/// socket's descriptor (`O_ASYNC` + `F_SETSIG`, directed at this loop's thread with
/// `F_SETOWN_EX`); the thread blocks the signal and reads it from a signalfd that NIO watches as a
/// pipe. Each ready socket is read with `recvmmsg` into one buffer shared by all of them; the
/// datagrams are handed on as slices of it. When the kernel's signal queue overflows it sends
/// SIGIO instead, and every socket is read. See `Sources/CSystemShim`.
///
/// Confined to its event loop.
final class DatagramSockets: @unchecked Sendable {
  /// Datagrams read per `recvmmsg`, each into a slot that fits any UDP payload.
  static let datagramsPerRead = 16
  static let slotSize = 65536

  /// Strong: a UDP hop may reach the batch through its socket table while its loop shuts down;
  /// the cycle with `EventLoopIO` ends when the loop forgets the table (`upstreamsClosed`).
  private let io: EventLoopIO
  private let threadID: CInt
  private var links: [CInt: UpstreamLink] = [:]
  private var listeners: [CInt: UDPListenerHandler] = [:]
  private var buffer: ByteBuffer
  private var lengths = [CInt](repeating: 0, count: DatagramSockets.datagramsPerRead)
  private var peers = [l7mp_peer](repeating: l7mp_peer(), count: DatagramSockets.datagramsPerRead)
  private var readyFDs = [CInt](repeating: 0, count: 64)

  /// Upstream sockets open.
  var count: Int { links.count }

  /// The loop's write batch.
  var batch: WriteBatch { io.batch }

  fileprivate init(io: EventLoopIO) throws {
    self.io = io
    threadID = l7mp_gettid()
    buffer = ByteBufferAllocator().buffer(capacity: Self.datagramsPerRead * Self.slotSize)
    let signalFD = l7mp_upstream_signalfd()
    guard signalFD >= 0 else {
      throw IOError(errnoCode: -signalFD, reason: "signalfd for upstream UDP sockets")
    }
    let signalRecords = 64 * 128
    guard let bootstrap = NIOPipeBootstrap(validatingGroup: io.eventLoop) else {
      _ = Glibc.close(signalFD)
      throw IOError(errnoCode: EINVAL, reason: "upstream UDP sockets need a NIO event loop")
    }
    bootstrap
      .channelOption(
        .recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: signalRecords)
      )
      .channelInitializer { [self] channel in
        channel.eventLoop.makeCompletedFuture {
          try channel.pipeline.syncOperations.addHandler(DatagramSignalHandler(upstreams: self))
        }
      }
      .takingOwnershipOfDescriptor(input: signalFD)
      .whenComplete { [io] result in
        switch result {
        case .success(let channel):
          channel.closeFuture.whenComplete { _ in io.upstreamsClosed() }
        case .failure(let error):
          _ = Glibc.close(signalFD)
          proxyLogger.error(
            "cannot watch upstream UDP sockets; their replies are lost",
            metadata: ["error": "\(error)"])
          io.upstreamsClosed()
        }
      }
  }

  /// A connected, non-blocking UDP socket to `address` whose datagrams go to `link`.
  func open(_ address: SocketAddress, for link: UpstreamLink) throws -> CInt {
    let fd = address.withSockAddr { pointer, length in
      l7mp_udp_upstream_open(pointer, socklen_t(length), threadID)
    }
    guard fd >= 0 else { throw IOError(errnoCode: -fd, reason: "UDP upstream \(address)") }
    links[fd] = link
    return fd
  }

  fileprivate func closeAll() {
    for fd in Array(links.keys) { close(fd) }
    listeners.removeAll()
  }

  /// A UDP listener's socket (bound, owned by its NIO channel, which never reads it): its
  /// datagrams are read here and handed to `handler`.
  func addListener(_ fd: CInt, handler: UDPListenerHandler) throws {
    let rc = l7mp_signal_readiness(fd, threadID)
    guard rc == 0 else { throw IOError(errnoCode: -rc, reason: "UDP listener readiness") }
    listeners[fd] = handler
    // Datagrams that came before the signals were set up have no signal of their own.
    drainListener(fd)
  }

  /// The listener's channel closed (and with it the socket).
  func removeListener(_ fd: CInt) { listeners[fd] = nil }

  func close(_ fd: CInt) {
    guard links.removeValue(forKey: fd) != nil else { return }
    _ = Glibc.close(fd)
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

  /// One datagram, not collected in a batch.
  func send(_ buffer: ByteBuffer, fd: CInt, link: UpstreamLink) {
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

  /// Signal records read from the signalfd: reads every socket they name.
  func signalled(_ records: ByteBuffer) {
    let n = records.withUnsafeReadableBytes { bytes in
      readyFDs.withUnsafeMutableBufferPointer { fds in
        l7mp_signal_fds(bytes.baseAddress, bytes.count, fds.baseAddress, CInt(fds.count))
      }
    }
    var previous: CInt = -2
    for i in 0..<Int(n) {
      let fd = readyFDs[i]
      if fd == previous { continue }
      previous = fd
      if fd == -1 {
        // The signal queue overflowed: any socket may hold datagrams.
        for fd in Array(links.keys) + Array(listeners.keys) { drain(fd) }
      } else {
        drain(fd)
      }
    }
  }

  /// Reads socket `fd` until it is empty (or its link closes). Each `recvmmsg` batch is handed
  /// on as slices of the shared buffer and the replies it causes are flushed before the next
  /// batch reuses the buffer.
  private func drain(_ fd: CInt) {
    guard let link = links[fd] else {
      drainListener(fd)
      return
    }
    let batch = io.batch
    while links[fd] === link {
      buffer.clear()  // allocates a new buffer only if a slice of the last one is still held
      let n = buffer.withUnsafeMutableWritableBytes { bytes in
        lengths.withUnsafeMutableBufferPointer { lengths in
          l7mp_recv_batch(
            fd, bytes.baseAddress!.assumingMemoryBound(to: UInt8.self), Self.slotSize,
            CInt(Self.datagramsPerRead), lengths.baseAddress)
        }
      }
      if n < 0 {
        if -n != EAGAIN && -n != EWOULDBLOCK { link.receiveFailed(errno: -n) }
        return
      }
      buffer.moveWriterIndex(to: Self.datagramsPerRead * Self.slotSize)
      batch.beginRead()
      for i in 0..<Int(n) {
        guard links[fd] === link else { break }
        link.received(buffer.getSlice(at: i * Self.slotSize, length: Int(lengths[i]))!)
      }
      batch.endRead()
      if n < Self.datagramsPerRead { return }
    }
  }
}

extension DatagramSockets {
  /// Reads listener socket `fd` until it is empty: each datagram, with the peer it came from,
  /// to the listener's handler; what they cause is sent when each batch is done.
  fileprivate func drainListener(_ fd: CInt) {
    guard let handler = listeners[fd] else { return }
    let batch = io.batch
    while listeners[fd] === handler {
      buffer.clear()
      let n = buffer.withUnsafeMutableWritableBytes { bytes in
        lengths.withUnsafeMutableBufferPointer { lengths in
          peers.withUnsafeMutableBufferPointer { peers in
            l7mp_recv_from_batch(
              fd, bytes.baseAddress!.assumingMemoryBound(to: UInt8.self), Self.slotSize,
              CInt(Self.datagramsPerRead), lengths.baseAddress, peers.baseAddress)
          }
        }
      }
      if n < 0 {
        if -n != EAGAIN && -n != EWOULDBLOCK {
          // An unconnected socket reports nothing of earlier sends; anything else is logged.
          proxyLogger.debug(
            "UDP listener read failed",
            metadata: ["error": "\(IOError(errnoCode: -n, reason: "recvmmsg"))"])
        }
        return
      }
      buffer.moveWriterIndex(to: Self.datagramsPerRead * Self.slotSize)
      batch.beginRead()
      for i in 0..<Int(n) {
        guard listeners[fd] === handler else { break }
        handler.handle(
          buffer.getSlice(at: i * Self.slotSize, length: Int(lengths[i]))!, from: UDPPeer(peers[i]))
      }
      batch.endRead()
      if n < Self.datagramsPerRead { return }
    }
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

/// Reads the upstream signalfd for `DatagramSockets`.
private final class DatagramSignalHandler: ChannelInboundHandler {
  typealias InboundIn = ByteBuffer
  let upstreams: DatagramSockets

  init(upstreams: DatagramSockets) { self.upstreams = upstreams }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    upstreams.signalled(unwrapInboundIn(data))
  }

  func errorCaught(context: ChannelHandlerContext, error: any Error) {
    proxyLogger.error("upstream UDP signal channel failed", metadata: ["error": "\(error)"])
  }
}
