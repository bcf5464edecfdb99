import NIOCore

/// Writes made while a UDP listener processes a read go out with one flush per channel when the
/// read ends, so NIO sends a run of datagrams with one `sendmmsg`
/// instead of one `sendmsg` each. Writes made outside a read (a timer, a WebSocket or stream
/// upstream's reply) are flushed at once.
///
/// Confined to the listener's event loop, like its flows and sessions.
final class WriteBatch {
  private var reading = false
  private var channels: [any Channel] = []

  init() { channels.reserveCapacity(16) }

  /// A read started: writes wait for `endRead`.
  func beginRead() { reading = true }

  func write<Message: Sendable>(_ message: Message, to channel: any Channel) {
    guard reading else {
      channel.writeAndFlush(message, promise: nil)
      return
    }
    channel.write(message, promise: nil)
    // Consecutive writes usually go to one channel; a channel listed twice is flushed twice,
    // which is harmless (the second finds nothing pending).
    if channels.last !== channel { channels.append(channel) }
  }

  /// The read ended (or failed): everything written since `beginRead` is flushed.
  func endRead() {
    reading = false
    guard !channels.isEmpty else { return }
    for channel in channels { channel.flush() }
    channels.removeAll(keepingCapacity: true)
  }
}
