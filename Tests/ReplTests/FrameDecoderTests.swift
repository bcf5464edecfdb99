import RuleLang
import Testing
import VM

@testable import Repl

/// Frames built by hand for every link type, IP version, extension header and transport; then
/// thousands of random, mutated and truncated frames that must each give a packet or a reason.
@Suite struct FrameDecoderTests {
  // MARK: frame builders

  static func be16(_ v: Int) -> [UInt8] { [UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
  static func be32(_ v: UInt32) -> [UInt8] {
    [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)]
  }

  static func udp(_ sport: Int, _ dport: Int, _ payload: [UInt8], length: Int? = nil) -> [UInt8] {
    be16(sport) + be16(dport) + be16(length ?? 8 + payload.count) + [0, 0] + payload
  }

  static func tcp(_ sport: Int, _ dport: Int, _ payload: [UInt8], optionWords: Int = 0) -> [UInt8] {
    let offset = UInt8((5 + optionWords) << 4)
    return be16(sport) + be16(dport) + be32(1) + be32(0) + [offset, 0x18] + be16(65535) + [0, 0]
      + [0, 0] + [UInt8](repeating: 1, count: optionWords * 4) + payload
  }

  static func ipv4(
    _ src: UInt32, _ dst: UInt32, proto: UInt8, _ body: [UInt8], optionWords: Int = 0,
    flagsAndOffset: Int = 0x4000, totalLength: Int? = nil
  ) -> [UInt8] {
    let ihl = 5 + optionWords
    let total = totalLength ?? ihl * 4 + body.count
    return [UInt8(0x40 | ihl), 0] + be16(total) + be16(0x1234) + be16(flagsAndOffset)
      + [64, proto, 0, 0] + be32(src) + be32(dst) + [UInt8](repeating: 1, count: optionWords * 4)
      + body
  }

  static let v6src: [UInt8] = [0x20, 0x01, 0x0D, 0xB8] + [UInt8](repeating: 0, count: 11) + [1]
  static let v6dst: [UInt8] = [0x20, 0x01, 0x0D, 0xB8] + [UInt8](repeating: 0, count: 11) + [2]

  /// `extensions`: (header type, total length in bytes, a multiple of 8).
  static func ipv6(
    next: UInt8, _ body: [UInt8], extensions: [(UInt8, Int)] = [], payloadLength: Int? = nil
  ) -> [UInt8] {
    var chain: [UInt8] = []
    let types = extensions.map(\.0) + [next]
    for (i, e) in extensions.enumerated() {
      chain += [types[i + 1], UInt8(e.1 / 8 - 1)] + [UInt8](repeating: 0, count: e.1 - 2)
    }
    let first = extensions.first?.0 ?? next
    let length = payloadLength ?? chain.count + body.count
    return [0x60, 0, 0, 0] + be16(length) + [first, 64] + v6src + v6dst + chain + body
  }

  static func ethernet(_ type: Int, _ body: [UInt8], tags: [Int] = [], pad: Bool = true) -> [UInt8]
  {
    var frame: [UInt8] = [2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2]
    for tpid in tags { frame += be16(tpid) + be16(100) }
    frame += be16(type) + body
    // Ethernet's minimum: 60 bytes before the FCS; short frames carry a trailer.
    if pad && frame.count < 60 { frame += [UInt8](repeating: 0xEE, count: 60 - frame.count) }
    return frame
  }

  static func sll(_ type: Int, _ body: [UInt8]) -> [UInt8] {
    [0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0] + be16(type) + body
  }

  static func sll2(_ type: Int, _ body: [UInt8]) -> [UInt8] {
    be16(type) + [0, 0] + be32(2) + [0, 1, 0, 6] + [2, 0, 0, 0, 0, 1, 0, 0] + body
  }

  static func loopback(_ family: UInt32, littleEndian: Bool, _ body: [UInt8]) -> [UInt8] {
    let b = be32(family)
    return (littleEndian ? b.reversed() : b) + body
  }

  static let gateway: UInt32 = 0x0A00_0007  // 10.0.0.7
  static let server: UInt32 = 0x0A00_0001  // 10.0.0.1
  static let hello = Array("hello".utf8)
  static var udpHello: [UInt8] { ipv4(gateway, server, proto: 17, udp(9001, 5060, hello)) }

  // MARK: helpers

  struct Decoded {
    var src: IPAddress
    var dst: IPAddress
    var srcPort: Int32
    var dstPort: Int32
    var payload: [UInt8]
    var transport: Transport
    /// Where the payload starts in the frame: proof that it is a view, not a copy.
    var payloadOffset: Int
  }

  static func decode(_ frame: [UInt8], _ link: LinkType) -> Result<Decoded, DecodeFailure> {
    frame.withUnsafeBytes { raw in
      switch FrameDecoder.decode(raw, linkType: link) {
      case .packet(let v, let t):
        let p = v.payload!
        #expect(v.hasAddresses)
        let offset = p.baseAddress! - raw.baseAddress!
        #expect(offset >= 0 && offset + p.count <= raw.count)
        return .success(
          Decoded(
            src: v.srcAddr, dst: v.dstAddr, srcPort: v.srcPort, dstPort: v.dstPort,
            payload: Array(p), transport: t, payloadOffset: offset))
      case .undecodable(let reason):
        return .failure(reason)
      }
    }
  }

  static func packet(
    _ frame: [UInt8], _ link: LinkType, sourceLocation: Testing.SourceLocation = #_sourceLocation
  ) -> Decoded? {
    switch decode(frame, link) {
    case .success(let d): return d
    case .failure(let f):
      Issue.record("expected a packet, got: \(f)", sourceLocation: sourceLocation)
      return nil
    }
  }

  static func failure(
    _ frame: [UInt8], _ link: LinkType, sourceLocation: Testing.SourceLocation = #_sourceLocation
  ) -> String {
    switch decode(frame, link) {
    case .success(let d):
      Issue.record("expected a failure, decoded \(d)", sourceLocation: sourceLocation)
      return ""
    case .failure(let f): return f.description
    }
  }

  func expectHello(_ d: Decoded?, sourceLocation: Testing.SourceLocation = #_sourceLocation) {
    guard let d else { return }
    #expect(d.src == IPAddress(v4: Self.gateway), sourceLocation: sourceLocation)
    #expect(d.dst == IPAddress(v4: Self.server), sourceLocation: sourceLocation)
    #expect(d.srcPort == 9001 && d.dstPort == 5060, sourceLocation: sourceLocation)
    #expect(d.payload == Self.hello, sourceLocation: sourceLocation)
    #expect(d.transport == .udp, sourceLocation: sourceLocation)
  }

  // MARK: link types

  @Test func ethernetIPv4UDP() {
    let frame = Self.ethernet(0x0800, Self.udpHello)
    let d = Self.packet(frame, .ethernet)
    expectHello(d)
    #expect(d?.payloadOffset == 14 + 20 + 8)
  }

  @Test func ethernetTrailerIsNotPayload() {
    let frame = Self.ethernet(0x0800, Self.udpHello)
    #expect(frame.count == 60)
    #expect(Self.packet(frame, .ethernet)?.payload == Self.hello)
    // An empty datagram: a present, empty payload.
    let empty = Self.ethernet(
      0x0800, Self.ipv4(Self.gateway, Self.server, proto: 17, Self.udp(1, 2, [])))
    let d = Self.packet(empty, .ethernet)
    #expect(d?.payload == [])
  }

  @Test func vlanTags() {
    expectHello(Self.packet(Self.ethernet(0x0800, Self.udpHello, tags: [0x8100]), .ethernet))
    let qinq = Self.ethernet(0x0800, Self.udpHello, tags: [0x88A8, 0x8100])
    let d = Self.packet(qinq, .ethernet)
    expectHello(d)
    #expect(d?.payloadOffset == 14 + 8 + 20 + 8)
    expectHello(
      Self.packet(Self.ethernet(0x0800, Self.udpHello, tags: [0x9100, 0x8100]), .ethernet))
    let v6 = Self.ethernet(0x86DD, Self.ipv6(next: 17, Self.udp(1, 2, [7])), tags: [0x8100])
    #expect(Self.packet(v6, .ethernet)?.payload == [7])
    #expect(
      Self.failure(
        Array(Self.ethernet(0x0800, [], tags: [0x8100], pad: false).prefix(16)), .ethernet)
        == "truncated 802.1Q VLAN tag header: 4 bytes needed, 2 captured")
    #expect(
      Self.failure(
        Self.ethernet(0x0806, [UInt8](repeating: 0, count: 28), tags: [0x8100]), .ethernet)
        == "not IP (ethertype 0x0806, ARP)")
  }

  @Test func linuxCooked() {
    let d = Self.packet(Self.sll(0x0800, Self.udpHello), .linuxSLL)
    expectHello(d)
    #expect(d?.payloadOffset == 16 + 28)
    let d2 = Self.packet(Self.sll2(0x0800, Self.udpHello), .linuxSLL2)
    expectHello(d2)
    #expect(d2?.payloadOffset == 20 + 28)
    #expect(
      Self.packet(Self.sll(0x86DD, Self.ipv6(next: 17, Self.udp(1, 2, [9]))), .linuxSLL)?.payload
        == [9])
    #expect(
      Self.packet(Self.sll2(0x86DD, Self.ipv6(next: 17, Self.udp(1, 2, [9]))), .linuxSLL2)?.payload
        == [9])
    #expect(
      Self.failure(Array(Self.sll(0x0800, []).prefix(15)), .linuxSLL)
        == "truncated Linux cooked (SLL) header: 16 bytes needed, 15 captured")
    #expect(
      Self.failure(Array(Self.sll2(0x0800, []).prefix(3)), .linuxSLL2)
        == "truncated Linux cooked v2 (SLL2) header: 20 bytes needed, 3 captured")
    #expect(Self.failure(Self.sll(0x0806, [0, 1]), .linuxSLL) == "not IP (ethertype 0x0806, ARP)")
    #expect(
      Self.failure(Self.sll2(0x88CC, [0, 1]), .linuxSLL2) == "not IP (ethertype 0x88cc, LLDP)")
  }

  @Test func rawIP() {
    expectHello(Self.packet(Self.udpHello, .raw))
    expectHello(Self.packet(Self.udpHello, .ipv4))
    let v6 = Self.ipv6(next: 17, Self.udp(9001, 5060, Self.hello))
    let d = Self.packet(v6, .raw)
    #expect(d?.payload == Self.hello)
    #expect(d?.src.isV4 == false)
    #expect(d?.src == (try? IPAddress.parse("2001:db8::1").get()))
    #expect(d?.dst == (try? IPAddress.parse("2001:db8::2").get()))
    #expect(Self.packet(v6, .ipv6)?.srcPort == 9001)
    #expect(Self.failure(v6, .ipv4) == "IP version 6 where the link type promises IPv4")
    #expect(Self.failure(Self.udpHello, .ipv6) == "IP version 4 where the link type promises IPv6")
    #expect(
      Self.failure([0x50] + Self.udpHello.dropFirst(), .raw) == "IP version 5 is neither 4 nor 6")
    #expect(Self.failure([], .raw) == "truncated IPv4 header: 20 bytes needed, 0 captured")
    #expect(Self.failure([], .ipv6) == "truncated IPv6 header: 40 bytes needed, 0 captured")
  }

  @Test func bsdLoopback() {
    for little in [true, false] {
      expectHello(Self.packet(Self.loopback(2, littleEndian: little, Self.udpHello), .null))
      for family: UInt32 in [10, 24, 28, 30] {
        let v6 = Self.loopback(
          family, littleEndian: little, Self.ipv6(next: 17, Self.udp(1, 2, [3])))
        #expect(Self.packet(v6, .null)?.payload == [3])
      }
      #expect(
        Self.failure(Self.loopback(7, littleEndian: little, Self.udpHello), .null)
          == "not IP (BSD loopback address family 7)")
    }
    #expect(
      Self.failure([2, 0], .null) == "truncated BSD loopback header: 4 bytes needed, 2 captured")
  }

  // MARK: IPv4

  @Test func ipv4Options() {
    for words in [1, 10] {
      let ip = Self.ipv4(
        Self.gateway, Self.server, proto: 17, Self.udp(9001, 5060, Self.hello), optionWords: words)
      let d = Self.packet(Self.ethernet(0x0800, ip), .ethernet)
      expectHello(d)
      #expect(d?.payloadOffset == 14 + 20 + 4 * words + 8)
    }
    let short = [UInt8(0x44)] + Self.udpHello.dropFirst()
    #expect(Self.failure(short, .raw) == "malformed IPv4 header: length 16 is less than 20")
    let long = Self.ipv4(Self.gateway, Self.server, proto: 17, [], optionWords: 10)
    #expect(
      Self.failure(Array(long.prefix(40)), .raw)
        == "truncated IPv4 header: 60 bytes needed, 40 captured")
  }

  @Test func ipv4Fragments() {
    let first = Self.ipv4(
      Self.gateway, Self.server, proto: 17, Self.udp(1, 2, Self.hello), flagsAndOffset: 0x2000)
    #expect(
      Self.failure(first, .raw)
        == "IPv4 fragment (offset 0, more fragments follow): fragments are not reassembled")
    let last = Self.ipv4(Self.gateway, Self.server, proto: 17, Self.hello, flagsAndOffset: 185)
    #expect(
      Self.failure(last, .raw)
        == "IPv4 fragment (offset 1480, the last one): fragments are not reassembled")
    // Don't-fragment alone is not a fragment; neither is a clear flags field.
    expectHello(
      Self.packet(
        Self.ipv4(
          Self.gateway, Self.server, proto: 17, Self.udp(9001, 5060, Self.hello), flagsAndOffset: 0),
        .raw))
  }

  @Test func ipv4Lengths() {
    let big = Self.ipv4(
      Self.gateway, Self.server, proto: 17, Self.udp(1, 2, Self.hello), totalLength: 1500)
    #expect(Self.failure(big, .raw) == "truncated IPv4 packet: length 1500, 33 bytes captured")
    let small = Self.ipv4(Self.gateway, Self.server, proto: 17, Self.udp(1, 2, []), totalLength: 19)
    #expect(Self.failure(small, .raw) == "malformed IPv4 header: length 19 is less than 20")
    // A total length shorter than the frame trims it: the UDP header is then cut short.
    let cut = Self.ipv4(
      Self.gateway, Self.server, proto: 17, Self.udp(1, 2, Self.hello), totalLength: 24)
    #expect(Self.failure(cut, .raw) == "truncated UDP header: 8 bytes needed, 4 captured")
  }

  @Test func otherProtocols() {
    let icmp = Self.ipv4(Self.gateway, Self.server, proto: 1, [8, 0, 0, 0, 0, 1, 0, 1])
    #expect(
      Self.failure(Self.ethernet(0x0800, icmp), .ethernet)
        == "unsupported protocol 1 (ICMP): only UDP and TCP are decoded")
    #expect(
      Self.failure(Self.ipv4(Self.gateway, Self.server, proto: 253, []), .raw)
        == "unsupported protocol 253: only UDP and TCP are decoded")
    let icmp6 = Self.ipv6(next: 58, [128, 0, 0, 0])
    #expect(
      Self.failure(icmp6, .raw) == "unsupported protocol 58 (ICMPv6): only UDP and TCP are decoded")
    #expect(
      Self.failure(Self.ethernet(0x0806, [UInt8](repeating: 0, count: 28)), .ethernet)
        == "not IP (ethertype 0x0806, ARP)")
    #expect(
      Self.failure(Self.ethernet(0x1234, [1, 2, 3]), .ethernet) == "not IP (ethertype 0x1234)")
    #expect(
      Self.failure(Self.ethernet(46, [0x42, 0x42, 0x03]), .ethernet)
        == "not IP (802.3 length field 46: an LLC frame)")
    #expect(
      Self.failure([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], .ethernet)
        == "truncated Ethernet header: 14 bytes needed, 10 captured")
  }

  // MARK: IPv6

  @Test func ipv6ExtensionHeaders() {
    let body = Self.udp(9001, 5060, Self.hello)
    let plain = Self.packet(Self.ethernet(0x86DD, Self.ipv6(next: 17, body)), .ethernet)
    #expect(plain?.payload == Self.hello && plain?.payloadOffset == 14 + 40 + 8)
    let chain: [(UInt8, Int)] = [(0, 8), (43, 24), (60, 16)]
    let d = Self.packet(
      Self.ethernet(0x86DD, Self.ipv6(next: 17, body, extensions: chain)), .ethernet)
    #expect(d?.payload == Self.hello)
    #expect(d?.srcPort == 9001 && d?.dstPort == 5060)
    #expect(d?.payloadOffset == 14 + 40 + 48 + 8)
    // Each kind alone, and TCP behind them.
    for e: UInt8 in [0, 43, 60] {
      let t = Self.packet(
        Self.ipv6(next: 6, Self.tcp(80, 443, [1, 2]), extensions: [(e, 8)]), .raw)
      #expect(t?.transport == .tcp && t?.payload == [1, 2])
    }
    let fragment = Self.ipv6(next: 17, body, extensions: [(0, 8), (44, 8)])
    #expect(
      Self.failure(fragment, .raw)
        == "IPv6 fragment (offset 0, the last one): fragments are not reassembled")
    var more = Self.ipv6(next: 17, body, extensions: [(44, 8)])
    more[40 + 2] = 0x05  // 0x0501: offset 0x0501 >> 3 = 160 eight-byte units, M flag set
    more[40 + 3] = 0x01
    #expect(
      Self.failure(more, .raw)
        == "IPv6 fragment (offset 1280, more fragments follow): fragments are not reassembled")
    // An extension header that claims more than there is.
    var long = Self.ipv6(next: 17, [], extensions: [(60, 8)])
    long[40 + 1] = 4
    #expect(
      Self.failure(long, .raw) == "truncated IPv6 extension header: 40 bytes needed, 8 captured")
    let cut = Self.ipv6(next: 17, [], extensions: [(0, 8)], payloadLength: 4)
    #expect(
      Self.failure(Array(cut.prefix(44)), .raw)
        == "truncated IPv6 extension header: 8 bytes needed, 4 captured")
    #expect(Self.failure(Self.ipv6(next: 59, []), .raw).hasPrefix("unsupported protocol 59"))
  }

  @Test func ipv6Lengths() {
    let jumbo = Self.ipv6(next: 17, [], extensions: [(0, 8)], payloadLength: 0)
    #expect(Self.failure(jumbo, .raw) == "IPv6 jumbogram (payload length 0): not decoded")
    let big = Self.ipv6(next: 17, Self.udp(1, 2, []), payloadLength: 100)
    #expect(Self.failure(big, .raw) == "truncated IPv6 packet: length 140, 48 bytes captured")
    #expect(
      Self.failure(Array(Self.ipv6(next: 17, []).prefix(39)), .raw)
        == "truncated IPv6 header: 40 bytes needed, 39 captured")
    var wrong = Self.ipv6(next: 17, Self.udp(1, 2, []))
    wrong[0] = 0x40
    #expect(Self.failure(wrong, .ethernet).hasPrefix("not IP"))  // not even an Ethernet frame
    #expect(
      Self.failure(Self.ethernet(0x86DD, wrong), .ethernet)
        == "IP version 4 where the link type promises IPv6")
  }

  // MARK: transports

  @Test func udpHeader() {
    let cut = Self.ipv4(Self.gateway, Self.server, proto: 17, [0, 1, 0])
    #expect(
      Self.failure(Self.ethernet(0x0800, cut), .ethernet)
        == "truncated UDP header: 8 bytes needed, 3 captured")
    let short = Self.ipv4(Self.gateway, Self.server, proto: 17, Self.udp(1, 2, [], length: 7))
    #expect(Self.failure(short, .raw) == "malformed UDP header: length 7 is less than 8")
    let long = Self.ipv4(Self.gateway, Self.server, proto: 17, Self.udp(1, 2, [1], length: 20))
    #expect(Self.failure(long, .raw) == "truncated UDP packet: length 20, 9 bytes captured")
    // A UDP length shorter than the IP payload trims it.
    let trimmed = Self.ipv4(
      Self.gateway, Self.server, proto: 17, Self.udp(1, 2, [1, 2, 3], length: 9))
    #expect(Self.packet(trimmed, .raw)?.payload == [1])
  }

  @Test func tcpSegments() {
    let seg = Self.tcp(40000, 80, Array("GET / HTTP/1.1\r\n".utf8), optionWords: 3)
    let frame = Self.ethernet(0x0800, Self.ipv4(Self.gateway, Self.server, proto: 6, seg))
    let d = Self.packet(frame, .ethernet)
    #expect(d?.transport == .tcp)
    #expect(d?.srcPort == 40000 && d?.dstPort == 80)
    #expect(d?.payload == Array("GET / HTTP/1.1\r\n".utf8))
    #expect(d?.payloadOffset == 14 + 20 + 32)
    // A bare ACK in a padded frame: empty data, not the trailer.
    let ack = Self.ethernet(
      0x0800, Self.ipv4(Self.gateway, Self.server, proto: 6, Self.tcp(1, 2, [])))
    #expect(Self.packet(ack, .ethernet)?.payload == [])
    let cut = Self.ipv4(Self.gateway, Self.server, proto: 6, Array(Self.tcp(1, 2, []).prefix(19)))
    #expect(Self.failure(cut, .raw) == "truncated TCP header: 20 bytes needed, 19 captured")
    var bad = Self.tcp(1, 2, [])
    bad[12] = 0x40
    #expect(
      Self.failure(Self.ipv4(Self.gateway, Self.server, proto: 6, bad), .raw)
        == "malformed TCP header: length 16 is less than 20")
    let optionsCut = Self.ipv4(
      Self.gateway, Self.server, proto: 6, Array(Self.tcp(1, 2, [], optionWords: 2).prefix(24)))
    #expect(Self.failure(optionsCut, .raw) == "truncated TCP header: 28 bytes needed, 24 captured")
  }

  // MARK: with the VM

  @Test func decodedFramesRunThroughTheVM() throws {
    let source = """
      rulelist r for UDP {
        rule from-gateway when IP.src_addr starts "10.0.0" and UDP.src_port == 9001 { route to w }
        rule v6 when IP.src_addr in 2001:db8::/32 and payload starts "hel" { route to w }
      }
      """
    let program = try Verifier.verify(
      try RuleCompiler.compile(SourceFile(name: "t.rules", text: source)).get())
    func rule(_ frame: [UInt8], _ link: LinkType) -> Int32? {
      frame.withUnsafeBytes { raw in
        guard case .packet(let view, _) = FrameDecoder.decode(raw, linkType: link) else {
          return nil
        }
        return withUnsafeTemporaryAllocation(of: Rewrite.self, capacity: Verifier.maxRewrites) {
          VM.evaluate(program, rulelist: 0, packet: view, rewrites: $0).rule
        }
      }
    }
    #expect(rule(Self.ethernet(0x0800, Self.udpHello), .ethernet) == 0)
    let other = Self.ipv4(0xC0A8_0001, Self.server, proto: 17, Self.udp(9001, 1, Self.hello))
    #expect(rule(Self.ethernet(0x0800, other), .ethernet) == -1)
    let v6 = Self.ipv6(next: 17, Self.udp(1, 2, Self.hello), extensions: [(0, 8)])
    #expect(rule(Self.sll2(0x86DD, v6), .linuxSLL2) == 1)
  }

  // MARK: robustness

  /// A small deterministic generator (SplitMix64), so failures reproduce.
  struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
      state &+= 0x9E37_79B9_7F4A_7C15
      var z = state
      z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
      z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
      return z ^ (z >> 31)
    }
  }

  /// Decodes and checks the result is whole: a payload inside the frame, or a reason in words.
  static func checkWhole(_ frame: [UInt8], _ link: LinkType) -> Bool {
    frame.withUnsafeBytes { raw in
      switch FrameDecoder.decode(raw, linkType: link) {
      case .packet(let v, _):
        guard let p = v.payload, v.hasAddresses, v.srcPort >= 0, v.dstPort >= 0 else {
          return false
        }
        if p.count == 0 { return true }
        let offset = p.baseAddress! - raw.baseAddress!
        return offset >= 0 && offset + p.count <= raw.count
      case .undecodable(let reason):
        return !reason.description.isEmpty
      }
    }
  }

  static var validFrames: [([UInt8], LinkType)] {
    let v6 = ipv6(
      next: 6, tcp(1, 2, Array("data".utf8), optionWords: 1), extensions: [(0, 8), (60, 16)])
    let udp6 = ipv6(next: 17, udp(53, 53, Array("query".utf8)), extensions: [(43, 8)])
    return [
      (ethernet(0x0800, udpHello), .ethernet),
      (ethernet(0x0800, udpHello, tags: [0x88A8, 0x8100]), .ethernet),
      (ethernet(0x86DD, v6, pad: false), .ethernet),
      (sll(0x0800, udpHello), .linuxSLL),
      (sll2(0x86DD, udp6), .linuxSLL2),
      (loopback(2, littleEndian: true, udpHello), .null),
      (loopback(30, littleEndian: false, v6), .null),
      (udpHello, .raw), (udp6, .raw), (udpHello, .ipv4), (v6, .ipv6),
      (
        ethernet(
          0x0800,
          ipv4(gateway, server, proto: 6, tcp(1, 2, [1, 2, 3], optionWords: 2), optionWords: 2)),
        .ethernet
      ),
    ]
  }

  @Test func everyTruncationGivesAReason() {
    var checked = 0
    for (frame, link) in Self.validFrames {
      #expect(Self.checkWhole(frame, link))
      // Cut before the end of the headers and payload (an Ethernet trailer may be cut freely).
      for n in 0..<frame.count {
        let prefix = Array(frame.prefix(n))
        #expect(Self.checkWhole(prefix, link), "\(link) frame cut to \(n) bytes")
        checked += 1
      }
    }
    #expect(checked > 500)
  }

  /// The fused Ethernet/IPv4/UDP path gives what the layer-by-layer decoder gives, packet or
  /// reason, on valid frames and on thousands of mutations of them.
  @Test func fastPathAgreesWithTheLayeredDecoder() {
    func outcome(_ frame: [UInt8], fast: Bool) -> String {
      frame.withUnsafeBytes { raw in
        var v = PacketView()
        switch FrameDecoder.decode(raw, linkType: .ethernet, into: &v, fastPath: fast) {
        case .success(let t):
          let offset = v.payload!.baseAddress! - raw.baseAddress!
          return
            "\(t) \(v.srcAddr) \(v.srcPort) \(v.dstAddr) \(v.dstPort) \(offset)+\(v.payload!.count)"
        case .failure(let f): return f.description
        }
      }
    }
    var rng = SplitMix(state: 0xFA57)
    let bases = [
      Self.ethernet(0x0800, Self.udpHello),
      Self.ethernet(0x0800, Self.udpHello, pad: false),
      Self.ethernet(0x0800, Self.ipv4(Self.gateway, Self.server, proto: 17, Self.udp(1, 2, []))),
    ]
    var fast = 0
    for i in 0..<20_000 {
      var frame = bases[i % bases.count]
      if i >= bases.count {
        // Mutate the bytes the fast path reads (12..<42) most of the time.
        for _ in 0..<Int.random(in: 1...2, using: &rng) {
          let at =
            Bool.random(using: &rng)
            ? Int.random(in: 12..<42, using: &rng) : Int.random(in: 0..<frame.count, using: &rng)
          frame[at] =
            Bool.random(using: &rng)
            ? UInt8.random(in: 0...255, using: &rng)
            : frame[at] ^ (1 << UInt8.random(in: 0...7, using: &rng))
        }
        if Int.random(in: 0..<8, using: &rng) == 0 {
          frame = Array(frame.prefix(Int.random(in: 0...frame.count, using: &rng)))
        }
      }
      let a = outcome(frame, fast: true)
      #expect(a == outcome(frame, fast: false), "frame \(frame)")
      if a.hasPrefix("UDP") { fast += 1 }
    }
    #expect(fast > 1_000)
  }

  /// Decoding into a view that still holds another packet's fields (HTTP, Unix, headers, labels)
  /// resets them, on the fused path and on the layered one (a TCP frame).
  @Test func decodingIntoAUsedViewResetsEveryField() {
    let junk: [UInt8] = Array("junk".utf8)
    let frames = [
      Self.ethernet(0x0800, Self.udpHello),
      Self.ethernet(0x0800, Self.ipv4(Self.gateway, Self.server, proto: 6, Self.tcp(1, 2, [7]))),
    ]
    junk.withUnsafeBytes { j in
      let header = HeaderField(name: j, value: j)
      let label = LabelField(name: j, value: .int(1))
      withUnsafePointer(to: header) { h in
        withUnsafePointer(to: label) { l in
          for frame in frames {
            var used = PacketView()
            used.httpMethod = j
            used.httpPath = j
            used.httpQuery = j
            used.httpHost = j
            used.unixFilename = j
            used.headers = UnsafeBufferPointer(start: h, count: 1)
            used.labels = UnsafeBufferPointer(start: l, count: 1)
            var fresh = PacketView()
            frame.withUnsafeBytes { raw in
              _ = FrameDecoder.decode(raw, linkType: .ethernet, into: &used)
              _ = FrameDecoder.decode(raw, linkType: .ethernet, into: &fresh)
            }
            #expect(used.httpMethod == nil && used.httpPath == nil && used.httpQuery == nil)
            #expect(used.httpHost == nil && used.unixFilename == nil)
            #expect(used.headers == nil && used.labels == nil)
            #expect(used.srcAddr == fresh.srcAddr && used.dstAddr == fresh.dstAddr)
            #expect(used.hasAddresses && used.srcPort == fresh.srcPort)
            #expect(used.dstPort == fresh.dstPort && used.payload?.count == fresh.payload?.count)
          }
        }
      }
    }
  }

  @Test func randomAndMutatedFramesNeverCrash() {
    var rng = SplitMix(state: 0x6C37_6D70)
    var decoded = 0
    var reasons = Set<String>()
    for i in 0..<20_000 {
      let link = LinkType.allCases[i % LinkType.allCases.count]
      var frame: [UInt8]
      if i % 2 == 0 {
        // Pure noise of any length up to 128 bytes.
        frame = (0..<Int.random(in: 0...128, using: &rng)).map { _ in
          UInt8.random(in: 0...255, using: &rng)
        }
      } else {
        // A valid frame with a few bytes changed and maybe cut: reaches the deeper layers.
        let (valid, validLink) = Self.validFrames[
          Int.random(in: 0..<Self.validFrames.count, using: &rng)]
        frame = valid
        for _ in 0..<Int.random(in: 1...4, using: &rng) {
          frame[Int.random(in: 0..<frame.count, using: &rng)] = UInt8.random(
            in: 0...255, using: &rng)
        }
        if Bool.random(using: &rng) {
          frame = Array(frame.prefix(Int.random(in: 0...frame.count, using: &rng)))
        }
        let ok = Self.checkWhole(frame, validLink)
        #expect(ok, "mutated \(validLink) frame \(frame)")
        if case .packet = frame.withUnsafeBytes({ FrameDecoder.decode($0, linkType: validLink) }) {
          decoded += 1
        } else if case .undecodable(let r) = frame.withUnsafeBytes({
          FrameDecoder.decode($0, linkType: validLink)
        }) {
          reasons.insert(String(describing: r).prefix(20).description)
        }
      }
      #expect(Self.checkWhole(frame, link), "random \(link) frame \(frame)")
    }
    // The mutations reach both outcomes and many different reasons.
    #expect(decoded > 100)
    #expect(reasons.count > 8)
  }
}
