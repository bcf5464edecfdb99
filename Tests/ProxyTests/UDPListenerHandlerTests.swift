import Config
import NIOCore
import NIOEmbedded
import Testing

@testable import Proxy

/// The UDP listener's handler on an `EmbeddedChannel`: datagrams in, verdicts, replies out.
@Suite struct UDPListenerHandlerTests {
  static let client = try! SocketAddress(ipAddress: "10.0.0.7", port: 9001)

  static func channel(_ rules: String) async throws -> (EmbeddedChannel, ProxyRuntime) {
    let runtime = ProxyRuntime()
    _ = try await runtime.addRulelist(RulelistConfig(name: "r", source: rules))
    try await runtime.addCluster(ClusterConfig(name: "echo", spec: ClusterSpec(protocol: .echo)))
    try await runtime.addCluster(
      ClusterConfig(name: "void", spec: ClusterSpec(protocol: .discard)))
    let config = ListenerConfig(
      name: "l", spec: ListenerSpec(protocol: .udp, port: 9001), rules: "l")
    let listener = ListenerRuntime(
      config: config, counters: runtime.metrics.listener("l"), runtime: runtime,
      rules: try runtime.resolveRules(for: config))
    let channel = EmbeddedChannel(handler: UDPListenerHandler(listener: listener))
    return (channel, runtime)
  }

  static func datagram(_ text: String) -> AddressedEnvelope<ByteBuffer> {
    AddressedEnvelope(remoteAddress: client, data: ByteBuffer(string: text))
  }

  @Test func routedDatagramComesBackToTheClient() async throws {
    let (channel, runtime) = try await Self.channel(
      """
      rulelist l for UDP {
        rule echo when IP.src_addr in 10.0.0.0/24 and UDP.src_port == 9001 { route to echo }
      }
      """)
    try channel.writeInbound(Self.datagram("ping"))
    let reply = try #require(try channel.readOutbound(as: AddressedEnvelope<ByteBuffer>.self))
    #expect(reply.remoteAddress == Self.client)
    #expect(String(buffer: reply.data) == "ping")
    #expect(runtime.liveSessions.count == 1)
    _ = try channel.finish()
  }

  /// The replies to the datagrams of one read are written as they come and flushed once, when
  /// the read completes (NIO sends them with one sendmmsg).
  @Test func repliesOfOneReadAreFlushedWhenTheReadCompletes() async throws {
    let (channel, _) = try await Self.channel(
      """
      rulelist l for UDP {
        rule echo { route to echo }
      }
      """)
    // One socket read of three datagrams (writeInbound would complete the read after each).
    for text in ["one", "two", "three"] {
      channel.pipeline.fireChannelRead(Self.datagram(text))
    }
    #expect(try channel.readOutbound(as: AddressedEnvelope<ByteBuffer>.self) == nil)
    channel.pipeline.fireChannelReadComplete()
    var replies: [String] = []
    while let reply = try channel.readOutbound(as: AddressedEnvelope<ByteBuffer>.self) {
      replies.append(String(buffer: reply.data))
    }
    #expect(replies == ["one", "two", "three"])
    // The next read is a batch of its own.
    try channel.writeInbound(Self.datagram("four"))
    let four = try channel.readOutbound(as: AddressedEnvelope<ByteBuffer>.self)
    #expect(four.map { String(buffer: $0.data) } == "four")
    _ = try channel.finish()
  }

  @Test func droppedDatagramsAreCountedNotAnswered() async throws {
    let (channel, runtime) = try await Self.channel(
      """
      rulelist l for UDP {
        rule quiet when payload starts "q" { drop }
        rule sink when payload starts "s" { route to void }
      }
      """)
    try channel.writeInbound(Self.datagram("quiet"))
    try channel.writeInbound(Self.datagram("nothing"))
    try channel.writeInbound(Self.datagram("sink"))
    #expect(try channel.readOutbound(as: AddressedEnvelope<ByteBuffer>.self) == nil)
    let metrics = await runtime.metricsText()
    #expect(metric(metrics, "l7mp_listener_drops_total", "reason=\"rules\"") == 2)
    #expect(metric(metrics, "l7mp_cluster_packets_sent_total", "cluster=\"void\"") == 1)
    _ = try channel.finish()
  }

  @Test func rewritesBecomeSessionMetadata() async throws {
    let (channel, runtime) = try await Self.channel(
      """
      rulelist l for UDP {
        rule tag {
          set HTTP.headers.id = 1
          set labels.ssrc = u32(payload, 0)
          route to echo
        }
      }
      """)
    try channel.writeInbound(
      AddressedEnvelope(remoteAddress: Self.client, data: ByteBuffer(bytes: [0, 0, 1, 2])))
    let session = try #require(runtime.liveSessions.first)
    #expect(session.metadata.headerRewrites.map(\.name) == ["id"])
    #expect(session.metadata.headerRewrites.map(\.value) == ["1"])
    #expect(session.metadata.value(at: "labels.ssrc") == "258")
    #expect(session.metadata.value(at: "IP.src_addr") == "10.0.0.7")
    #expect(session.metadata.value(at: "UDP/src_port") != nil)
    #expect(session.metadata.value(at: "TCP.src_port") == nil)
    _ = try channel.finish()
  }

  @Test func oneSessionPerVerdict() async throws {
    let (channel, runtime) = try await Self.channel(
      """
      rulelist l for UDP {
        rule a when payload starts "a" { route to echo }
        rule b { route to echo }
      }
      """)
    for text in ["a1", "b1", "a2", "b2", "a3"] { try channel.writeInbound(Self.datagram(text)) }
    let sessions = runtime.liveSessions
    #expect(sessions.count == 2)
    #expect(Set(sessions.map(\.packetsIn)) == [2, 3])
    _ = try channel.finish()
  }
}
