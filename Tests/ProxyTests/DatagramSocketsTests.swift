import CSystemShim
import Config
import Foundation
import NIOCore
import NIOPosix
import Synchronization
import Testing

@testable import Proxy

/// The UDP data path (`DatagramLoop`, `DatagramSockets`): one socket per session hop, without
/// a NIO channel, read through the loop's epoll set, closed with their sessions and with their
/// loop; the loop's tasks and timers.
@Suite(.serialized) struct DatagramSocketsTests {
  /// A runtime with its own data-path loop and a UDP listener routing everything to a UDP
  /// cluster at `upstreamPort`.
  static func proxy(
    loop: DatagramLoop, group: MultiThreadedEventLoopGroup = .singleton, upstreamPort: Int
  ) async throws -> (ProxyRuntime, Int) {
    try await proxy(
      loop: loop, group: group, to: ProxyRuntimeTests.upstream("up", .udp, port: upstreamPort))
  }

  /// The same, routing everything to `cluster`.
  static func proxy(
    loop: DatagramLoop, group: MultiThreadedEventLoopGroup = .singleton, to cluster: ClusterConfig
  ) async throws -> (ProxyRuntime, Int) {
    let runtime = ProxyRuntime(group: group, datagramLoop: loop)
    _ = try await runtime.addRulelist(
      RulelistConfig(
        name: "rules", source: "rulelist l for UDP { rule all { route to \(cluster.name) } }"))
    try await runtime.addCluster(cluster)
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

  static func portIsFree(_ port: Int) -> Bool {
    let probe = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
    defer { close(probe) }
    var a = sockaddr_in.loopback(port: port)
    return withUnsafePointer(to: &a) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        bind(probe, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
      }
    } == 0
  }

  @Test func oneSocketPerSessionClosedWithTheSession() async throws {
    let loop = try DatagramLoop(name: "test-udp")
    let upstream = try UDPTestClient()
    let (runtime, port) = try await Self.proxy(loop: loop, upstreamPort: upstream.port)
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
    #expect(Self.portIsFree(port), "the listener's socket closed with it")
    try await loop.shutdownGracefully()
  }

  /// Sockets still open when their loop ends are closed, the listener's too.
  @Test func loopShutdownClosesItsSockets() async throws {
    let loop = try DatagramLoop(name: "test-udp")
    let upstream = try UDPTestClient()
    let (_, port) = try await Self.proxy(loop: loop, upstreamPort: upstream.port)
    let client = try UDPTestClient()
    client.send("ping", to: port)
    let got = try #require(upstream.receiveWithSender())
    try await loop.shutdownGracefully()
    // The session's port and the listener's are free again: their sockets were closed.
    #expect(Self.portIsFree(got.port), "port \(got.port) still bound (errno \(errno))")
    #expect(Self.portIsFree(port), "port \(port) still bound (errno \(errno))")
  }

  /// A TCP listener's sessions run on NIO's loops; their UDP hops are sockets of the data path
  /// too (read there, their datagrams handed to the session's loop), closed with the sessions.
  @Test func udpHopsOfStreamSessionsAreReadByTheDataPath() async throws {
    let loop = try DatagramLoop(name: "test-udp")
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
    let upstream = try UDPTestClient()
    let (runtime, _) = try await Self.proxy(loop: loop, group: group, upstreamPort: upstream.port)
    let tcpPort = freePort(udp: false)
    _ = try await runtime.addRulelist(
      RulelistConfig(name: "tcp", source: "rulelist t for TCP { rule all { route to up } }"))
    try await runtime.addListener(
      ListenerConfig(
        name: "tcp", spec: ListenerSpec(protocol: .tcp, address: "127.0.0.1", port: tcpPort),
        rules: "t"))
    let clients = try (0..<4).map { _ in try TCPTestClient(port: tcpPort) }
    for (k, client) in clients.enumerated() {
      client.send(Array("tcp \(k)".utf8))
      let got = try #require(upstream.receiveWithSender())
      #expect(got.text == "tcp \(k)")
      for reply in 0..<3 {
        upstream.send("back \(k).\(reply)", to: got.port)
        #expect(
          client.receive().map { String(decoding: $0, as: UTF8.self) } == "back \(k).\(reply)")
      }
    }
    let remote = {
      try await loop.submit { EventLoopIO.of(loop).existingSockets!.remoteCount }.get()
    }
    #expect(try await remote() == 4)
    #expect(try await Self.socketCount(loop) == 0, "no session of the data path's own")
    for nio in group.makeIterator() {
      #expect(try await nio.submit { EventLoopIO.of(nio).existingSockets == nil }.get())
    }
    #expect(await runtime.sessions().count == 4)
    for client in clients { _ = shutdown(client.fd, Int32(SHUT_RDWR)) }
    // The sessions end with their connections, and their sockets with them.
    var left = -1
    for _ in 0..<200 {
      left = try await remote()
      if left == 0 { break }
      try await Task.sleep(for: .milliseconds(10))
    }
    #expect(left == 0)
    await runtime.shutdown()
    try await loop.shutdownGracefully()
    try await group.shutdownGracefully()
  }

  /// A UDP listener whose routes lead to a TCP cluster is a NIO channel (its sessions share a
  /// loop with their TCP connections); one bound before that cluster existed runs on the data
  /// path, and its sessions' TCP hops are channels on NIO's loop whose replies come back to the
  /// session's loop. Both carry the traffic.
  @Test(arguments: [true, false]) func udpSessionWithAStreamHop(clusterFirst: Bool) async throws {
    let loop = try DatagramLoop(name: "test-udp")
    let runtime = ProxyRuntime(datagramLoop: loop)
    let tcpPort = freePort(udp: false)
    let udpPort = freePort()
    _ = try await runtime.addRulelist(
      RulelistConfig(
        name: "rules",
        source: """
          rulelist u for UDP { rule all { route to tcp-hop } }
          rulelist t for TCP { rule all { route to echo } }
          """))
    try await runtime.addCluster(ProxyRuntimeTests.echo)
    try await runtime.addListener(
      ListenerConfig(
        name: "tcp", spec: ListenerSpec(protocol: .tcp, address: "127.0.0.1", port: tcpPort),
        rules: "t"))
    let hop = ProxyRuntimeTests.upstream("tcp-hop", .tcp, port: tcpPort)
    if clusterFirst { try await runtime.addCluster(hop) }
    try await runtime.addListener(
      ListenerConfig(
        name: "udp", spec: ListenerSpec(protocol: .udp, address: "127.0.0.1", port: udpPort),
        rules: "u"))
    if !clusterFirst { try await runtime.addCluster(hop) }
    #expect(runtime.isOnDataPath(listener: "udp") == !clusterFirst)
    let client = try UDPTestClient()
    for k in 0..<5 {
      client.send("over tcp \(k)", to: udpPort)
      #expect(client.receiveText() == "over tcp \(k)")
    }
    let sessions = await runtime.sessions()
    #expect(sessions.count == 2)
    #expect(sessions.allSatisfy { $0.status == "established" })
    await runtime.shutdown()
    try await loop.shutdownGracefully()
  }

  /// A burst longer than one socket's turn (64 datagrams) is read over several turns, and every
  /// datagram is answered: the edge-triggered epoll set does not report the socket again, the
  /// loop comes back to it.
  @Test func burstLongerThanATurnIsAllAnswered() async throws {
    let loop = try DatagramLoop(name: "test-udp")
    let (runtime, port) = try await Self.proxy(loop: loop, to: ProxyRuntimeTests.echo)
    let client = try UDPTestClient()
    client.raiseBuffers()
    let count = 150
    // Sent while the loop is busy with a task, so that they queue in the listener's socket.
    let gate = loop.submit { _ = usleep(50_000) }
    for k in 0..<count { client.send("burst \(k)", to: port) }
    try await gate.get()
    var answered = Set<String>()
    while answered.count < count, let text = client.receiveText() { answered.insert(text) }
    let missing = (0..<count).filter { !answered.contains("burst \($0)") }
    #expect(
      missing.isEmpty, "\(missing.count) of \(count) unanswered, from burst \(missing.first ?? -1)")
    await runtime.shutdown()
    try await loop.shutdownGracefully()
  }

  /// Tasks from other threads run on the loop, in order; timers fire in deadline order and a
  /// cancelled one never does.
  @Test func loopRunsTasksAndTimers() async throws {
    let loop = try DatagramLoop(name: "test-udp")
    #expect(!loop.inEventLoop)
    let order = Mutex<[String]>([])
    let onLoop = try await loop.submit { loop.inEventLoop }.get()
    #expect(onLoop)
    let late = loop.scheduleTask(in: .milliseconds(60)) { order.withLock { $0.append("60") } }
    let cancelled = loop.scheduleTask(in: .milliseconds(30)) {
      order.withLock { $0.append("30") }
    }
    let early = loop.scheduleTask(in: .milliseconds(10)) { order.withLock { $0.append("10") } }
    cancelled.cancel()
    for k in 0..<100 { loop.execute { order.withLock { $0.append("task \(k)") } } }
    try await early.futureResult.get()
    try await late.futureResult.get()
    await #expect(throws: EventLoopError.self) { try await cancelled.futureResult.get() }
    let seen = order.withLock { $0 }
    #expect(seen.filter { $0.hasPrefix("task") } == (0..<100).map { "task \($0)" })
    #expect(seen.filter { !$0.hasPrefix("task") } == ["10", "60"])
    // A timer set from the loop itself, and a failing task's error reaches its future.
    let nested = try await loop.submit {
      loop.scheduleTask(in: .milliseconds(1)) { "nested" }.futureResult
    }.get().get()
    #expect(nested == "nested")
    struct Failure: Error {}
    await #expect(throws: Failure.self) {
      try await loop.scheduleTask(in: .zero) { () throws -> Int in throw Failure() }
        .futureResult.get()
    }
    try await loop.shutdownGracefully()
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
