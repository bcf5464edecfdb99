import CSystemShim
import Config
import Foundation
import NIOCore
import NIOPosix
import Testing

@testable import Proxy

/// Upstream UDP hops without a NIO channel each (`DatagramSockets`): one socket per session
/// hop, readiness by signal, closed with their sessions and with their event loop.
@Suite(.serialized) struct DatagramSocketsTests {
  /// A runtime on its own one-thread event loop, with a UDP listener routing everything to a
  /// UDP cluster at `upstreamPort`.
  static func proxy(
    group: MultiThreadedEventLoopGroup, upstreamPort: Int
  ) async throws -> (ProxyRuntime, Int) {
    let runtime = ProxyRuntime(group: group)
    _ = try await runtime.addRulelist(
      RulelistConfig(name: "rules", source: "rulelist l for UDP { rule all { route to up } }"))
    try await runtime.addCluster(ProxyRuntimeTests.upstream("up", .udp, port: upstreamPort))
    let port = freePort()
    try await runtime.addListener(
      ListenerConfig(
        name: "udp", spec: ListenerSpec(protocol: .udp, address: "127.0.0.1", port: port),
        rules: "l"))
    return (runtime, port)
  }

  static func socketCount(_ loop: any EventLoop) async throws -> Int {
    try await loop.submit { EventLoopIO.of(loop).datagramSocketCount }.get()
  }

  @Test func oneSocketPerSessionClosedWithTheSession() async throws {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    let loop = group.next()
    let upstream = try UDPTestClient()
    let (runtime, port) = try await Self.proxy(group: group, upstreamPort: upstream.port)
    let clients = try (0..<20).map { _ in try UDPTestClient() }
    var upstreamPorts = Set<Int>()
    for (k, client) in clients.enumerated() {
      client.send("ping \(k)", to: port)
      let got = try #require(upstream.receiveWithSender())
      #expect(got.text == "ping \(k)")
      upstreamPorts.insert(got.port)
      // The reply goes back through the session's socket to its client.
      upstream.send("pong \(k)", to: got.port)
      #expect(client.receiveText() == "pong \(k)")
    }
    #expect(upstreamPorts.count == 20)
    #expect(try await Self.socketCount(loop) == 20)
    for session in await runtime.sessions() {
      try await runtime.deleteSession(named: session.name)
    }
    #expect(try await Self.socketCount(loop) == 0)
    await runtime.shutdown()
    try await group.shutdownGracefully()
  }

  /// A SIGIO record (the kernel's signal queue overflowed) reads every socket: the reply is at
  /// the client before the datagram's own signal has been read.
  @Test func queueOverflowReadsEverySocket() async throws {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    let loop = group.next()
    let upstream = try UDPTestClient()
    let (runtime, port) = try await Self.proxy(group: group, upstreamPort: upstream.port)
    let client = try UDPTestClient()
    client.send("ping", to: port)
    let got = try #require(upstream.receiveWithSender())
    let early = try await loop.submit { () throws -> (before: String?, after: String?) in
      upstream.send("pong", to: got.port)  // queued at once on loopback; its signal waits
      let before = client.receiveNow()
      var records = ByteBuffer(repeating: 0, count: 128)
      records.setInteger(UInt32(SIGIO), at: 0, endianness: .host)
      try EventLoopIO.of(loop).sockets().signalled(records)
      return (before, client.receiveNow())
    }.get()
    #expect(early.before == nil)
    #expect(early.after == "pong")
    await runtime.shutdown()
    try await group.shutdownGracefully()
  }

  /// Sockets still open when their event loop ends are closed (their signals would name a
  /// thread that no longer exists).
  @Test func loopShutdownClosesItsSockets() async throws {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    let upstream = try UDPTestClient()
    let (_, port) = try await Self.proxy(group: group, upstreamPort: upstream.port)
    let client = try UDPTestClient()
    client.send("ping", to: port)
    let got = try #require(upstream.receiveWithSender())
    try await group.shutdownGracefully()
    // The session's port is free again: its socket was closed.
    let probe = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
    defer { close(probe) }
    var a = sockaddr_in.loopback(port: got.port)
    let bound = withUnsafePointer(to: &a) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        bind(probe, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
      }
    }
    #expect(bound == 0, "port \(got.port) still bound (errno \(errno))")
  }

  /// Only the group's first loop (where UDP listeners live) holds signal-driven sockets: the
  /// sessions of a TCP listener's connections on the other loop reach their UDP upstream
  /// through a NIO channel, and every connection is answered either way.
  @Test func udpHopsOnOtherLoopsUseAChannel() async throws {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
    let all = Array(group.makeIterator())
    try #require(all.count == 2)
    let (first, second) = (all[0], all[1])
    let upstream = try UDPTestClient()
    let (runtime, _) = try await Self.proxy(group: group, upstreamPort: upstream.port)
    let tcpPort = freePort(udp: false)
    _ = try await runtime.addRulelist(
      RulelistConfig(name: "tcp", source: "rulelist t for TCP { rule all { route to up } }"))
    try await runtime.addListener(
      ListenerConfig(
        name: "tcp", spec: ListenerSpec(protocol: .tcp, address: "127.0.0.1", port: tcpPort),
        rules: "t"))
    // Connections are spread over both loops (NIO hands them out in turn).
    let clients = try (0..<4).map { _ in try TCPTestClient(port: tcpPort) }
    for (k, client) in clients.enumerated() {
      client.send(Array("tcp \(k)".utf8))
      let got = try #require(upstream.receiveWithSender())
      #expect(got.text == "tcp \(k)")
      upstream.send("back \(k)", to: got.port)
      #expect(client.receive().map { String(decoding: $0, as: UTF8.self) } == "back \(k)")
    }
    let onFirst = try await Self.socketCount(first)
    let secondHasTable = try await second.submit { EventLoopIO.of(second).existingSockets != nil }
      .get()
    #expect(onFirst >= 1 && onFirst <= 3, "the first loop's sessions use its table: \(onFirst)")
    #expect(!secondHasTable, "no signal-driven sockets on the second loop")
    #expect(await runtime.sessions().count == 4)
    await runtime.shutdown()
    try await group.shutdownGracefully()
  }

  @Test func signalRecordsNameTheirSockets() {
    var records = [UInt8](repeating: 0, count: 4 * 128)
    func put(_ value: Int32, record: Int, offset: Int) {
      withUnsafeBytes(of: value) { b in
        for (k, byte) in b.enumerated() { records[record * 128 + offset + k] = byte }
      }
    }
    put(l7mp_upstream_signal(), record: 0, offset: 0)
    put(7, record: 0, offset: 20)  // ssi_fd
    put(SIGIO, record: 1, offset: 0)
    put(SIGUSR1, record: 2, offset: 0)  // not ours: skipped
    put(l7mp_upstream_signal(), record: 3, offset: 0)
    put(9, record: 3, offset: 20)
    var fds = [Int32](repeating: 0, count: 8)
    let n = records.withUnsafeBytes { r in
      fds.withUnsafeMutableBufferPointer {
        l7mp_signal_fds(r.baseAddress, r.count, $0.baseAddress, 8)
      }
    }
    #expect(Array(fds[0..<Int(n)]) == [7, -1, 9])
    // A partial record is ignored; the capacity is respected.
    let partial = records.withUnsafeBytes { r in
      fds.withUnsafeMutableBufferPointer { l7mp_signal_fds(r.baseAddress, 127, $0.baseAddress, 8) }
    }
    #expect(partial == 0)
    let capped = records.withUnsafeBytes { r in
      fds.withUnsafeMutableBufferPointer {
        l7mp_signal_fds(r.baseAddress, r.count, $0.baseAddress, 1)
      }
    }
    #expect(capped == 1)
  }
}

/// A UDP listener on ::1: datagrams in and replies out carry IPv6 addresses.
@Suite struct DatagramSocketsIPv6Tests {
  @Test func ipv6ListenerAnswersItsClients() async throws {
    let runtime = ProxyRuntime()
    _ = try await runtime.addRulelist(
      RulelistConfig(
        name: "rules",
        source: "rulelist l for UDP { rule v6 when IP.src_addr == ::1 { route to echo } }"))
    try await runtime.addCluster(ProxyRuntimeTests.echo)
    let port = freePort()
    try await runtime.addListener(
      ListenerConfig(
        name: "udp6", spec: ListenerSpec(protocol: .udp, address: "::1", port: port),
        rules: "l"))
    defer { Task { await runtime.shutdown() } }
    let fd = socket(AF_INET6, Int32(SOCK_DGRAM.rawValue), 0)
    defer { close(fd) }
    setTimeout(fd, 2)
    var to = sockaddr_in6()
    to.sin6_family = sa_family_t(AF_INET6)
    to.sin6_port = UInt16(port).bigEndian
    to.sin6_addr = in6addr_loopback
    for k in 0..<3 {
      let text = Array("six \(k)".utf8)
      let sent = text.withUnsafeBytes { b in
        withUnsafePointer(to: &to) {
          $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            sendto(fd, b.baseAddress, b.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in6>.size))
          }
        }
      }
      #expect(sent == text.count)
      var buf = [UInt8](repeating: 0, count: 256)
      let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
      #expect(n == text.count && Array(buf[0..<max(n, 0)]) == text)
    }
    let sessions = await runtime.sessions()
    #expect(sessions.count == 1)
    #expect(sessions.first?.source.hasPrefix("[::1]:") == true)
  }
}
