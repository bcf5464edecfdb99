import CPcap
import Repl
import RuleLang
import VM

/// What the VM benchmarks (Benchmarks/VMBenchmarks) and the callgrind driver
/// (Benchmarks/Tools/VMCallgrind) measure: the same rules, BPF filters and packets for both, so that
/// the nanoseconds of one and the instruction counts of the other describe the same work.
///
/// Every packet set holds `Frames.count` UDP/IPv4 packets, each both as a raw Ethernet frame (what
/// BPF and `FrameDecoder` read) and as a `PacketView` built the way the proxy builds it (addresses
/// and ports from the socket, the payload pointing at the datagram's bytes, here inside the frame).
public enum Workloads {
  // MARK: rules

  /// The seed's rule (DESIGN.md, "from-gateway").
  public static let seedRule = """
    rulelist seed for UDP {
      rule from-gateway when IP.src_addr starts "10.0.0" and UDP.src_port == 9001 {
        route to worker
      }
    }
    """

  /// The seed's rule for libpcap, as issue 3 words it.
  public static let seedFilter = "src net 10.0.0.0/24 and udp src port 9001"

  /// Ten predicates: both addresses, both ports (one a range), the payload's length (twice) and
  /// its bytes (an RTP header: version 2, payload type 96, a non-zero sequence number, an SSRC).
  public static let tenRule = """
    rulelist ten for UDP {
      rule rtp-from-gateway
        when IP.src_addr in 10.0.0.0/24 and IP.dst_addr in 192.168.0.0/16
          and UDP.src_port == 9001 and UDP.dst_port in 5000..5999
          and len(payload) >= 12 and len(payload) <= 1400
          and payload[0] & 0xc0 == 0x80 and payload[1] & 0x7f == 96
          and u16(payload, 2) != 0 and u32(payload, 8) == 0xdeadbeef {
        route to media
      }
    }
    """

  /// The same ten predicates in pcap-filter syntax. `udp[4:2]` is the UDP length (header
  /// included, hence +8); `udp[8…]` are payload bytes.
  public static let tenFilter =
    "src net 10.0.0.0/24 and dst net 192.168.0.0/16 and udp src port 9001"
    + " and udp dst portrange 5000-5999 and udp[4:2] >= 20 and udp[4:2] <= 1408"
    + " and udp[8] & 0xc0 == 0x80 and udp[9] & 0x7f == 96 and udp[10:2] != 0"
    + " and udp[16:4] == 0xdeadbeef"

  /// `count` rules of the shapes the compiler indexes (as RuleLangBenchmarks' generator): an
  /// exact destination port, a /32 source address, a payload prefix, in turn. No catch-all rule,
  /// so a packet that hits none of them gets no verdict. When `count - 1` is a multiple of 3 (10,
  /// 1,000 and 10,000 are) the last rule tests `UDP.dst_port == lastRulePort(count)`.
  public static func indexableRules(_ count: Int) -> String {
    var out = "rulelist generated for UDP {\n"
    for i in 0..<count {
      switch i % 3 {
      case 0:
        out +=
          "  rule port-\(i) when UDP.dst_port == \(1024 + i % 60_000) { route to c\(i % 17) }\n"
      case 1:
        out +=
          "  rule net-\(i) when IP.src_addr in 10.\(i / 65_536 % 256).\(i / 256 % 256).\(i % 256)/32"
          + " { route to c\(i % 17) }\n"
      default:
        out += "  rule sig-\(i) when payload starts \"SIG\(i)\" { route to c\(i % 17) }\n"
      }
    }
    return out + "}\n"
  }

  public static func lastRulePort(_ count: Int) -> UInt16 {
    precondition((count - 1) % 3 == 0)
    return UInt16(1024 + (count - 1) % 60_000)
  }

  /// Checks, compiles and verifies; the benchmarks cannot run without their programs.
  public static func compile(_ source: String, name: String) -> VerifiedProgram {
    switch RuleCompiler.compile(SourceFile(name: name, text: source)) {
    case .success(let p):
      do { return try Verifier.verify(p) } catch { fatalError("\(name): \(error)") }
    case .failure(let e): fatalError("\(name): \(e)")
    }
  }

  public static func check(_ source: String, name: String) -> CheckedFile {
    let checked = RuleChecker.check(SourceFile(name: name, text: source))
    precondition(!checked.hasErrors, "\(name): \(checked.diagnostics)")
    return checked
  }

  // MARK: packets

  /// The full-match set: from 10.0.0.x port 9001 to 192.168.x.y ports 5000–5999, each carrying a
  /// 32-byte RTP-like payload that satisfies the ten-predicate rule as well.
  public static func matching() -> Frames {
    Frames { i in
      Frames.Spec(
        src: 0x0A00_0000 | UInt32(1 + i % 254), dst: 0xC0A8_0000 | UInt32(i % 65_536),
        srcPort: 9001, dstPort: UInt16(5000 + i % 1000), payload: rtp(i))
    }
  }

  /// The early-reject set: like `matching`, but from 192.168.x.y, so the first test of both
  /// rules (the source address) fails.
  public static func rejected() -> Frames {
    Frames { i in
      Frames.Spec(
        src: 0xC0A8_0000 | UInt32(1 + i % 60_000), dst: 0xC0A8_0000 | UInt32(i % 65_536),
        srcPort: 9001, dstPort: UInt16(5000 + i % 1000), payload: rtp(i))
    }
  }

  /// Packets for `indexableRules(count)` that only its last rule matches (a port rule).
  public static func hittingLastRule(_ count: Int) -> Frames {
    let port = lastRulePort(count)
    return Frames { i in
      Frames.Spec(
        src: 0xAC10_0000 | UInt32(1 + i), dst: 0xC0A8_0001, srcPort: UInt16(20_000 + i),
        dstPort: port, payload: rtp(i))
    }
  }

  /// Packets that no indexable rule matches: another source network, destination ports below
  /// 1024, payloads that do not start with "SIG".
  public static func hittingNoRule() -> Frames {
    Frames { i in
      Frames.Spec(
        src: 0xAC10_0000 | UInt32(1 + i), dst: 0xC0A8_0001, srcPort: UInt16(20_000 + i),
        dstPort: UInt16(1 + i % 1000), payload: rtp(i))
    }
  }

  /// 32 bytes: RTP version 2, payload type 96, sequence number `i + 1`, a timestamp, SSRC
  /// 0xdeadbeef, then filler.
  static func rtp(_ i: Int) -> [UInt8] {
    let seq = UInt16(truncatingIfNeeded: i + 1)
    let ts = UInt32(truncatingIfNeeded: i &* 160)
    var p: [UInt8] = [0x80, 0x60, UInt8(seq >> 8), UInt8(seq & 0xFF)]
    p += [UInt8(ts >> 24), UInt8(ts >> 16 & 0xFF), UInt8(ts >> 8 & 0xFF), UInt8(ts & 0xFF)]
    p += [0xDE, 0xAD, 0xBE, 0xEF]
    p += (0..<20).map { UInt8(truncatingIfNeeded: $0 &+ i) }
    return p
  }

  /// A buffer for the verdict's rewrites, allocated once.
  public static func rewriteBuffer() -> UnsafeMutableBufferPointer<Rewrite> {
    // A trivial type: the VM writes an entry before anything reads it.
    UnsafeMutableBufferPointer<Rewrite>.allocate(capacity: Verifier.maxRewrites)
  }
}

/// `count` Ethernet/IPv4/UDP frames at a fixed stride in one buffer, their `PacketView`s as the
/// proxy would build them, and `OwnedPacket` copies for the reference evaluator. Never freed: the
/// benchmark process ends with them.
public final class Frames: @unchecked Sendable {
  public static let count = 1_000
  public static let stride = 128

  public struct Spec {
    var src: UInt32
    var dst: UInt32
    var srcPort: UInt16
    var dstPort: UInt16
    var payload: [UInt8]
  }

  public let bytes: UnsafeMutableRawBufferPointer
  public let lengths: UnsafeMutableBufferPointer<Int>
  public let views: UnsafeMutableBufferPointer<PacketView>
  public let owned: [OwnedPacket]

  init(_ spec: (Int) -> Spec) {
    bytes = .allocate(byteCount: Self.count * Self.stride, alignment: 64)
    bytes.initializeMemory(as: UInt8.self, repeating: 0)
    lengths = .allocate(capacity: Self.count)
    views = .allocate(capacity: Self.count)
    var owned: [OwnedPacket] = []
    for i in 0..<Self.count {
      let s = spec(i)
      let frame = Self.ethernet(s)
      precondition(frame.count <= Self.stride)
      let base = bytes.baseAddress! + i * Self.stride
      frame.withUnsafeBytes { base.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
      lengths[i] = frame.count
      var v = PacketView()
      v.srcAddr = IPAddress(v4: s.src)
      v.dstAddr = IPAddress(v4: s.dst)
      v.hasAddresses = true
      v.srcPort = Int32(s.srcPort)
      v.dstPort = Int32(s.dstPort)
      v.payload = UnsafeRawBufferPointer(
        start: base + (frame.count - s.payload.count), count: s.payload.count)
      views.initializeElement(at: i, to: v)
      var o = OwnedPacket()
      o.srcAddr = v.srcAddr
      o.dstAddr = v.dstAddr
      o.srcPort = Int(s.srcPort)
      o.dstPort = Int(s.dstPort)
      o.payload = s.payload
      owned.append(o)
    }
    self.owned = owned
  }

  /// Frame `i`: a view into the shared buffer.
  @inlinable public func frame(_ i: Int) -> UnsafeRawBufferPointer {
    UnsafeRawBufferPointer(start: bytes.baseAddress! + i * Self.stride, count: lengths[i])
  }

  static func ethernet(_ s: Spec) -> [UInt8] {
    func be16(_ v: Int) -> [UInt8] { [UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
    func be32(_ v: UInt32) -> [UInt8] {
      [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)]
    }
    let udp =
      be16(Int(s.srcPort)) + be16(Int(s.dstPort)) + be16(8 + s.payload.count) + [0, 0]
      + s.payload
    var ip: [UInt8] = [0x45, 0] + be16(20 + udp.count) + [0, 1, 0x40, 0, 64, 17, 0, 0]
    ip += be32(s.src) + be32(s.dst)
    // The header checksum, as a real capture would have it (BPF does not check it).
    var sum: UInt32 = 0
    for j in Swift.stride(from: 0, to: 20, by: 2) { sum += UInt32(ip[j]) << 8 | UInt32(ip[j + 1]) }
    while sum > 0xFFFF { sum = (sum & 0xFFFF) + (sum >> 16) }
    let checksum = ~UInt16(sum)
    ip[10] = UInt8(checksum >> 8)
    ip[11] = UInt8(checksum & 0xFF)
    let mac: [UInt8] = [0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2]
    return mac + [0x08, 0x00] + ip + udp
  }
}

/// A libpcap filter compiled for Ethernet frames, run with `bpf_filter` (the interpreter
/// libpcap uses on captures and in user space).
public final class BPFFilter: @unchecked Sendable {
  public let expression: String
  public let program: UnsafeMutablePointer<bpf_program>

  public init(_ expression: String) {
    self.expression = expression
    program = .allocate(capacity: 1)
    program.initialize(to: bpf_program())
    guard let pcap = pcap_open_dead(DLT_EN10MB, 65_535) else { fatalError("pcap_open_dead") }
    // PCAP_NETMASK_UNKNOWN: the filter uses no broadcast test.
    guard pcap_compile(pcap, program, expression, 1, 0xFFFF_FFFF) == 0 else {
      fatalError("pcap_compile \(expression): \(String(cString: pcap_geterr(pcap)))")
    }
    pcap_close(pcap)
  }

  /// The number of BPF instructions.
  public var length: Int { Int(program.pointee.bf_len) }

  /// The program as `tcpdump -d` prints it.
  public var listing: [String] {
    (0..<length).map { i in
      String(cString: bpf_image(program.pointee.bf_insns + i, Int32(i)))
    }
  }

  /// Whether the filter accepts `frame` (captured whole: caplen = len).
  @inlinable public func accepts(_ frame: UnsafeRawBufferPointer) -> Bool {
    let n = UInt32(frame.count)
    return bpf_filter(
      program.pointee.bf_insns, frame.baseAddress!.assumingMemoryBound(to: UInt8.self), n, n)
      != 0
  }
}
