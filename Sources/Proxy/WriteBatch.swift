import CSystemShim
import NIOCore

/// Writes made while the proxy handles a read — a UDP listener's `recvmmsg`, an upstream
/// socket's — go out together when the read ends: datagrams for one upstream socket with one
/// `sendmmsg`, writes to a channel with one flush (so NIO sends a run of datagrams with one
/// `sendmmsg` too). Writes made outside a read (a timer, a WebSocket or stream upstream's
/// reply) go out at once.
///
/// One per event loop (`EventLoopIO`), shared by its listeners and upstream sockets; confined to
/// that loop.
final class WriteBatch {
  /// A datagram for a channel-less upstream UDP socket (`DatagramSockets`).
  struct Datagram {
    let fd: CInt
    let link: UpstreamLink
    let buffer: ByteBuffer
  }

  /// A reply for a client of a UDP listener, sent from the listener's socket.
  struct Reply {
    let handler: UDPListenerHandler
    let peer: UDPPeer
    let buffer: ByteBuffer
  }

  private var depth = 0
  private var channels: [any Channel] = []
  private var datagrams: [Datagram] = []
  private var replies: [Reply] = []
  /// Datagrams collected before they are sent anyway (`sendmmsg` takes up to 64).
  static let datagramLimit = 64

  init() {
    channels.reserveCapacity(16)
    datagrams.reserveCapacity(Self.datagramLimit)
    replies.reserveCapacity(Self.datagramLimit)
  }

  /// A read started: writes wait for the matching `endRead`. Reads may nest.
  func beginRead() { depth += 1 }

  func write<Message: Sendable>(_ message: Message, to channel: any Channel) {
    guard depth > 0 else {
      channel.writeAndFlush(message, promise: nil)
      return
    }
    channel.write(message, promise: nil)
    // Consecutive writes usually go to one channel; a channel listed twice is flushed twice,
    // which is harmless (the second finds nothing pending).
    if channels.last !== channel { channels.append(channel) }
  }

  /// A datagram for upstream socket `fd` of `link`.
  func send(_ buffer: ByteBuffer, fd: CInt, link: UpstreamLink) {
    guard depth > 0 else {
      DatagramSockets.sendNow(buffer, fd: fd, link: link)
      return
    }
    datagrams.append(Datagram(fd: fd, link: link, buffer: buffer))
    if datagrams.count == Self.datagramLimit { sendDatagrams() }
  }

  /// A reply to `peer` from the socket of the UDP listener `handler`.
  func reply(_ buffer: ByteBuffer, to peer: UDPPeer, from handler: UDPListenerHandler) {
    // Outside a read (a reply from a WebSocket or stream upstream) it goes out at once, through
    // the same reserved array.
    let now = depth == 0
    replies.append(Reply(handler: handler, peer: peer, buffer: buffer))
    if now || replies.count == Self.datagramLimit { sendReplies() }
  }

  /// The read ended: everything written since the outermost `beginRead` goes out.
  func endRead() {
    guard depth > 0 else { return }
    depth -= 1
    if depth == 0 { flush() }
  }

  private func flush() {
    sendDatagrams()
    sendReplies()
    guard !channels.isEmpty else { return }
    for channel in channels { channel.flush() }
    channels.removeAll(keepingCapacity: true)
  }

  /// Runs of replies from one listener socket go out with one `sendmmsg` each; a listener closed
  /// meanwhile sends nothing.
  private func sendReplies() {
    guard !replies.isEmpty else { return }
    var start = 0
    while start < replies.count {
      let handler = replies[start].handler
      var end = start + 1
      while end < replies.count && replies[end].handler === handler { end += 1 }
      if let fd = handler.socket { DatagramSockets.sendReplies(replies[start..<end], fd: fd) }
      start = end
    }
    replies.removeAll(keepingCapacity: true)
  }

  /// Runs of datagrams for one socket go out with one `sendmmsg` each. A datagram whose link has
  /// since moved to another socket (or closed) is not sent.
  private func sendDatagrams() {
    guard !datagrams.isEmpty else { return }
    var start = 0
    while start < datagrams.count {
      let first = datagrams[start]
      var end = start + 1
      while end < datagrams.count && datagrams[end].fd == first.fd
        && datagrams[end].link === first.link
      {
        end += 1
      }
      if let sockets = first.link.datagramSockets, first.link.datagramFD == first.fd {
        sockets.send(datagrams[start..<end], fd: first.fd)
      }
      start = end
    }
    datagrams.removeAll(keepingCapacity: true)
  }
}
