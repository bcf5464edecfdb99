import ArgumentParser
import Foundation
import Logging
import NIOCore
import NIOPosix
import Proxy

/// `l7mp echo --udp ADDR:PORT | --tcp ADDR:PORT | --uds PATH | --ws ADDR:PORT`: test servers.
struct EchoCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "echo",
    abstract: "Run an echo server (UDP, TCP, Unix socket or WebSocket) for tests and examples.",
    discussion: """
      Sends back every message it receives. Port 0 asks the OS for a free port; the bound \
      address goes to standard output as 'l7mp echo: listening on ADDRESS'. What arrives is \
      logged at debug level (L7MP_LOG_LEVEL=debug). The WebSocket server logs each upgrade \
      request's headers at info level, and answers the message 'headers?' with them (one \
      'name: value' a line). SIGTERM or SIGINT stops it.
      """
  )

  @Option(help: ArgumentHelp("Serve UDP on this address.", valueName: "addr:port"))
  var udp: String?

  @Option(help: ArgumentHelp("Serve TCP on this address.", valueName: "addr:port"))
  var tcp: String?

  @Option(help: ArgumentHelp("Serve a Unix stream socket at this path.", valueName: "path"))
  var uds: String?

  @Option(help: ArgumentHelp("Serve WebSocket on this address.", valueName: "addr:port"))
  var ws: String?

  func validate() throws {
    let given = [udp, tcp, uds, ws].compactMap { $0 }
    guard given.count == 1 else {
      throw ValidationError(
        "give exactly one of --udp ADDR:PORT, --tcp ADDR:PORT, --uds PATH, --ws ADDR:PORT")
    }
    for a in [udp, tcp, ws].compactMap({ $0 }) { _ = try Self.hostPort(a) }
  }

  /// `127.0.0.1:9000`, `[::1]:9000`, `:9000` (all interfaces).
  static func hostPort(_ text: String) throws -> (String, Int) {
    guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
      (0...65535).contains(port)
    else {
      throw ValidationError("'\(text)' is not ADDRESS:PORT (e.g. 127.0.0.1:9000)")
    }
    var host = String(text[..<colon])
    if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
    return (host.isEmpty ? "0.0.0.0" : host, port)
  }

  func run() async throws {
    let kind: EchoServer.Kind
    if let udp {
      let (h, p) = try Self.hostPort(udp)
      kind = .udp(host: h, port: p)
    } else if let tcp {
      let (h, p) = try Self.hostPort(tcp)
      kind = .tcp(host: h, port: p)
    } else if let uds {
      kind = .uds(path: uds)
    } else {
      let (h, p) = try Self.hostPort(ws!)
      kind = .webSocket(host: h, port: p)
    }
    let channel: any Channel
    do {
      channel = try await EchoServer.start(kind, group: MultiThreadedEventLoopGroup.singleton)
    } catch {
      Output.error("l7mp echo: cannot bind: \(error)\n")
      throw ExitCode(2)
    }
    let address = channel.localAddress?.displayText ?? "?"
    try await SignalHandling.run(
      [
        ChannelService(channel: channel) {
          Output.write("l7mp echo: listening on \(address)\n")
        }
      ], logger: Logger(label: "l7mp.lifecycle"))
  }
}
