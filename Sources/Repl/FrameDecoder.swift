import RuleLang
import VM

/// A capture's link-layer header type: the values of libpcap's `LINKTYPE_*` (pcap and pcapng files
/// store these, and `pcap_datalink` returns the matching `DLT_*`, equal for these types).
public enum LinkType: Int32, Sendable, CaseIterable {
  /// BSD loopback: a 4-byte address family in the capturing host's byte order.
  case null = 0
  case ethernet = 1
  /// Raw IP: the first nibble says IPv4 or IPv6.
  case raw = 101
  /// Linux "cooked" capture (`any` device), 16-byte header.
  case linuxSLL = 113
  /// Linux cooked capture v2, 20-byte header.
  case linuxSLL2 = 276
  case ipv4 = 228
  case ipv6 = 229
}

/// The transport the decoded packet was carried on.
public enum Transport: Sendable, Hashable, CustomStringConvertible {
  case udp
  case tcp

  public var description: String { self == .udp ? "UDP" : "TCP" }
}

/// A header of a captured frame, for failure messages.
public enum FrameHeader: String, Sendable, Hashable {
  case loopback = "BSD loopback"
  case ethernet = "Ethernet"
  case vlanTag = "802.1Q VLAN tag"
  case linuxSLL = "Linux cooked (SLL)"
  case linuxSLL2 = "Linux cooked v2 (SLL2)"
  case ipv4 = "IPv4"
  case ipv6 = "IPv6"
  case ipv6Extension = "IPv6 extension"
  case udp = "UDP"
  case tcp = "TCP"
}

/// Why a frame was not decoded into a packet. Values only (no strings are built while decoding);
/// `description` says it in words.
public enum DecodeFailure: Error, Sendable, Hashable, CustomStringConvertible {
  /// `header` needs `needed` bytes from its start, but only `available` were captured.
  case truncated(FrameHeader, needed: Int, available: Int)
  /// The link layer carries something else (ARP, LLDP, an 802.3 length field…).
  case notIP(etherType: UInt16)
  /// A BSD loopback frame of an address family that is neither IPv4 nor IPv6.
  case notIPFamily(UInt32)
  /// The IP version nibble is not the one the link type promises (`expected` nil: 4 or 6).
  case wrongIPVersion(UInt8, expected: UInt8?)
  /// A length field below its header's minimum (IPv4 IHL, TCP data offset, UDP length).
  case badLength(FrameHeader, length: Int, minimum: Int)
  /// A length field that says more bytes follow than were captured.
  case lengthExceedsCapture(FrameHeader, length: Int, available: Int)
  /// One fragment of a datagram: fragments are not reassembled.
  case fragment(ipVersion: UInt8, offset: Int, moreFragments: Bool)
  /// An IP protocol (or IPv6 next header) other than UDP and TCP.
  case unsupportedProtocol(UInt8)
  /// An IPv6 payload length of 0 with a hop-by-hop header: a jumbogram.
  case jumbogram

  public var description: String {
    switch self {
    case .truncated(let h, let needed, let available):
      return "truncated \(h.rawValue) header: \(needed) bytes needed, \(available) captured"
    case .notIP(let t):
      if t < 0x0600 { return "not IP (802.3 length field \(t): an LLC frame)" }
      let name = Self.etherTypeNames[t].map { ", \($0)" } ?? ""
      return "not IP (ethertype 0x\(hex(t, width: 4))\(name))"
    case .notIPFamily(let f):
      return "not IP (BSD loopback address family \(f))"
    case .wrongIPVersion(let v, let expected):
      if let expected { return "IP version \(v) where the link type promises IPv\(expected)" }
      return "IP version \(v) is neither 4 nor 6"
    case .badLength(let h, let length, let minimum):
      return "malformed \(h.rawValue) header: length \(length) is less than \(minimum)"
    case .lengthExceedsCapture(let h, let length, let available):
      return "truncated \(h.rawValue) packet: length \(length), \(available) bytes captured"
    case .fragment(let v, let offset, let more):
      let rest = more ? ", more fragments follow" : ", the last one"
      return "IPv\(v) fragment (offset \(offset)\(rest)): fragments are not reassembled"
    case .unsupportedProtocol(let p):
      let name = Self.protocolNames[p].map { " (\($0))" } ?? ""
      return "unsupported protocol \(p)\(name): only UDP and TCP are decoded"
    case .jumbogram:
      return "IPv6 jumbogram (payload length 0): not decoded"
    }
  }

  static let etherTypeNames: [UInt16: String] = [
    0x0806: "ARP", 0x8035: "RARP", 0x8847: "MPLS", 0x8848: "MPLS multicast",
    0x8863: "PPPoE discovery", 0x8864: "PPPoE session", 0x888E: "EAPOL", 0x88CC: "LLDP",
    0x88F7: "PTP", 0x8809: "slow protocols (LACP)", 0x9000: "loopback test",
  ]

  static let protocolNames: [UInt8: String] = [
    0: "IPv6 hop-by-hop", 1: "ICMP", 2: "IGMP", 4: "IPv4 in IP", 41: "IPv6 in IP", 47: "GRE",
    50: "ESP", 51: "AH", 58: "ICMPv6", 59: "IPv6 no next header", 89: "OSPF", 103: "PIM",
    112: "VRRP", 132: "SCTP", 136: "UDP-Lite",
  ]
}

private func hex(_ v: UInt16, width: Int) -> String {
  let s = String(v, radix: 16)
  return String(repeating: "0", count: max(0, width - s.count)) + s
}

/// A decoded frame: the packet as the VM sees it (views into the frame), or why there is none.
public enum DecodeResult {
  case packet(PacketView, transport: Transport)
  case undecodable(reason: DecodeFailure)
}

/// Decodes raw captured frames into `PacketView`s in place: the view's payload points into the
/// frame, nothing is allocated or copied, and every input — however short or malformed — yields
/// either a packet or a reason. Length fields are trusted only as far as the captured bytes go, and
/// they trim link-layer padding (an Ethernet frame's trailer is not payload).
public enum FrameDecoder {
  public static func decode(_ frame: UnsafeRawBufferPointer, linkType: LinkType) -> DecodeResult {
    var view = PacketView()
    switch decode(frame, linkType: linkType, into: &view) {
    case .success(let transport): return .packet(view, transport: transport)
    case .failure(let reason): return .undecodable(reason: reason)
    }
  }

  /// The same, writing the packet into `view` (reset first; left untouched on failure). The form
  /// for per-packet loops: a `PacketView` is some 250 bytes, and a result that carries one is
  /// copied on its way out; this one is written once, in place.
  ///
  /// Most frames are Ethernet, IPv4 without options, UDP: those are decoded here, inlined into the
  /// caller's loop, with two masked loads for the six type checks and three comparisons for the
  /// lengths. Everything else goes to the layer-by-layer decoder, which also names what is wrong.
  @inlinable
  public static func decode(
    _ frame: UnsafeRawBufferPointer, linkType: LinkType, into view: inout PacketView
  ) -> Result<Transport, DecodeFailure> {
    if linkType == .ethernet, frame.count >= 42, let base = frame.baseAddress {
      func u16(_ at: Int) -> Int {
        Int(UInt16(bigEndian: base.loadUnaligned(fromByteOffset: at, as: UInt16.self)))
      }
      func u32(_ at: Int) -> UInt32 {
        UInt32(bigEndian: base.loadUnaligned(fromByteOffset: at, as: UInt32.self))
      }
      // Bytes 12-15: ethertype 0x0800, version 4 with a 20-byte header (0x45), any TOS. Bytes
      // 20-23: no fragment bits (more fragments, offset; DF may be set), any TTL, protocol 17.
      let totalLength = u16(16)
      let udpLength = u16(38)
      if u32(12) & 0xFFFF_FF00 == 0x0800_4500, u32(20) & 0x3FFF_00FF == 17,
        totalLength <= frame.count - 14, udpLength >= 8, udpLength <= totalLength - 20
      {
        // Every field of the view is written: the decoded ones, and the rest reset.
        view.srcAddr = IPAddress(v4: u32(26))
        view.dstAddr = IPAddress(v4: u32(30))
        view.hasAddresses = true
        view.srcPort = Int32(u16(34))
        view.dstPort = Int32(u16(36))
        view.payload = UnsafeRawBufferPointer(start: base + 42, count: udpLength - 8)
        view.httpMethod = nil
        view.httpPath = nil
        view.httpQuery = nil
        view.httpHost = nil
        view.unixFilename = nil
        view.headers = nil
        view.labels = nil
        return .success(.udp)
      }
    }
    return decodeLayered(frame, linkType: linkType, into: &view)
  }

  /// `fastPath: false` decodes layer by layer only; the tests hold the two paths to one answer.
  static func decode(
    _ frame: UnsafeRawBufferPointer, linkType: LinkType, into view: inout PacketView,
    fastPath: Bool
  ) -> Result<Transport, DecodeFailure> {
    fastPath
      ? decode(frame, linkType: linkType, into: &view)
      : decodeLayered(frame, linkType: linkType, into: &view)
  }

  /// Any frame, layer by layer.
  @usableFromInline
  static func decodeLayered(
    _ frame: UnsafeRawBufferPointer, linkType: LinkType, into view: inout PacketView
  ) -> Result<Transport, DecodeFailure> {
    var c = Cursor(frame)
    if let failure = c.link(linkType) { return .failure(failure) }
    view = PacketView()
    view.srcAddr = c.src
    view.dstAddr = c.dst
    view.hasAddresses = true
    view.srcPort = c.srcPort
    view.dstPort = c.dstPort
    view.payload = c.rest
    return .success(c.transport)
  }
}

/// The unread rest of a frame, and what the layers read so far. Every read is preceded by a `has`
/// check on `frame.count`. Each layer returns nil to go on, or why the frame is not decoded; after
/// the transport layer, `frame` is the payload.
private struct Cursor {
  /// The frame's first byte; `at..<end` is the unread rest, as offsets from it. (Offsets and a
  /// non-optional base keep the per-field work to one load: a buffer pointer's optional base and
  /// end pointer would each cost a check or a subtraction.)
  let base: UnsafeRawPointer
  var at = 0
  var end: Int
  var src = IPAddress(v4: 0)
  var dst = IPAddress(v4: 0)
  var srcPort: Int32 = 0
  var dstPort: Int32 = 0
  var transport = Transport.udp

  @inline(__always) init(_ frame: UnsafeRawBufferPointer) {
    // An empty buffer may have no address; nothing is ever read from it (every read is after a
    // `has` check), so any non-null address serves.
    base = frame.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!
    end = frame.count
  }

  /// The unread rest (after the transport header: the payload).
  var rest: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base + at, count: end - at) }

  /// The number of unread bytes.
  @inline(__always) var count: Int { end - at }

  @inline(__always) func has(_ n: Int) -> Bool { end - at >= n }

  @inline(__always) func u8(_ i: Int) -> UInt8 { base.load(fromByteOffset: at + i, as: UInt8.self) }

  @inline(__always) func u16(_ i: Int) -> UInt16 {
    UInt16(bigEndian: base.loadUnaligned(fromByteOffset: at + i, as: UInt16.self))
  }

  @inline(__always) func u32(_ i: Int) -> UInt32 {
    UInt32(bigEndian: base.loadUnaligned(fromByteOffset: at + i, as: UInt32.self))
  }

  @inline(__always) func u64(_ i: Int) -> UInt64 {
    UInt64(bigEndian: base.loadUnaligned(fromByteOffset: at + i, as: UInt64.self))
  }

  @inline(__always) mutating func advance(_ n: Int) { at += n }

  /// Keeps the next `n` bytes (a length field's extent; the rest is padding).
  @inline(__always) mutating func keep(_ n: Int) { end = at + n }

  func truncated(_ h: FrameHeader, _ needed: Int) -> DecodeFailure {
    .truncated(h, needed: needed, available: count)
  }

  @inline(__always) mutating func link(_ linkType: LinkType) -> DecodeFailure? {
    switch linkType {
    case .ethernet:
      guard has(14) else { return truncated(.ethernet, 14) }
      return etherType(u16(12), after: 14)
    case .linuxSLL:
      guard has(16) else { return truncated(.linuxSLL, 16) }
      return etherType(u16(14), after: 16)
    case .linuxSLL2:
      guard has(20) else { return truncated(.linuxSLL2, 20) }
      return etherType(u16(0), after: 20)
    case .null:
      guard has(4) else { return truncated(.loopback, 4) }
      // The family is in the capturing host's byte order; families are small numbers.
      var family = base.loadUnaligned(fromByteOffset: at, as: UInt32.self)
      if family & 0xFFFF_0000 != 0 { family = family.byteSwapped }
      advance(4)
      switch family {
      case 2: return ipv4()
      case 10, 24, 28, 30: return ipv6()  // AF_INET6: Linux, NetBSD/OpenBSD, FreeBSD, Darwin
      default: return .notIPFamily(family)
      }
    case .raw: return ip(expected: nil)
    case .ipv4: return ip(expected: 4)
    case .ipv6: return ip(expected: 6)
    }
  }

  /// An ethertype at the end of a link header of `after` bytes; VLAN tags (802.1Q, 802.1ad QinQ,
  /// the pre-standard 0x9100) are skipped, as many as there are.
  @inline(__always) mutating func etherType(_ first: UInt16, after: Int) -> DecodeFailure? {
    var type = first
    advance(after)
    while type == 0x8100 || type == 0x88A8 || type == 0x9100 {
      guard has(4) else { return truncated(.vlanTag, 4) }
      type = u16(2)
      advance(4)
    }
    switch type {
    case 0x0800: return ipv4()
    case 0x86DD: return ipv6()
    default: return .notIP(etherType: type)
    }
  }

  mutating func ip(expected: UInt8?) -> DecodeFailure? {
    guard has(1) else { return truncated(expected == 6 ? .ipv6 : .ipv4, expected == 6 ? 40 : 20) }
    let version = u8(0) >> 4
    if let expected, version != expected {
      return .wrongIPVersion(version, expected: expected)
    }
    switch version {
    case 4: return ipv4()
    case 6: return ipv6()
    default: return .wrongIPVersion(version, expected: nil)
    }
  }

  @inline(__always) mutating func ipv4() -> DecodeFailure? {
    guard has(20) else { return truncated(.ipv4, 20) }
    let first = u8(0)
    guard first >> 4 == 4 else { return .wrongIPVersion(first >> 4, expected: 4) }
    let headerLength = Int(first & 0x0F) * 4
    guard headerLength >= 20 else {
      return .badLength(.ipv4, length: headerLength, minimum: 20)
    }
    guard has(headerLength) else { return truncated(.ipv4, headerLength) }
    let totalLength = Int(u16(2))
    guard totalLength >= headerLength else {
      return .badLength(.ipv4, length: totalLength, minimum: headerLength)
    }
    guard has(totalLength) else {
      return .lengthExceedsCapture(.ipv4, length: totalLength, available: count)
    }
    let flagsAndOffset = u16(6)
    if flagsAndOffset & 0x3FFF != 0 {
      return .fragment(
        ipVersion: 4, offset: Int(flagsAndOffset & 0x1FFF) * 8,
        moreFragments: flagsAndOffset & 0x2000 != 0)
    }
    src = IPAddress(v4: u32(12))
    dst = IPAddress(v4: u32(16))
    let proto = u8(9)
    keep(totalLength)
    advance(headerLength)
    return transport(proto)
  }

  mutating func ipv6() -> DecodeFailure? {
    guard has(40) else { return truncated(.ipv6, 40) }
    let version = u8(0) >> 4
    guard version == 6 else { return .wrongIPVersion(version, expected: 6) }
    let payloadLength = Int(u16(4))
    var next = u8(6)
    if payloadLength == 0 && next == 0 { return .jumbogram }
    guard has(40 + payloadLength) else {
      return .lengthExceedsCapture(.ipv6, length: 40 + payloadLength, available: count)
    }
    src = IPAddress(high: u64(8), low: u64(16))
    dst = IPAddress(high: u64(24), low: u64(32))
    keep(40 + payloadLength)
    advance(40)
    // Extension headers: each is at least 8 bytes, so the loop ends with the payload.
    while true {
      switch next {
      case 0, 43, 60:  // hop-by-hop options, routing, destination options
        guard has(8) else { return truncated(.ipv6Extension, 8) }
        let length = (Int(u8(1)) + 1) * 8
        guard has(length) else { return truncated(.ipv6Extension, length) }
        next = u8(0)
        advance(length)
      case 44:
        guard has(8) else { return truncated(.ipv6Extension, 8) }
        let offsetAndFlags = u16(2)
        return .fragment(
          ipVersion: 6, offset: Int(offsetAndFlags >> 3) * 8,
          moreFragments: offsetAndFlags & 1 != 0)
      default:
        return transport(next)
      }
    }
  }

  /// The UDP or TCP header at the start of the IP payload (the cursor ends at the IP payload's
  /// end); leaves the cursor on the payload.
  @inline(__always) mutating func transport(_ proto: UInt8) -> DecodeFailure? {
    switch proto {
    case 17:
      guard has(8) else { return truncated(.udp, 8) }
      let length = Int(u16(4))
      guard length >= 8 else { return .badLength(.udp, length: length, minimum: 8) }
      guard has(length) else {
        return .lengthExceedsCapture(.udp, length: length, available: count)
      }
      srcPort = Int32(u16(0))
      dstPort = Int32(u16(2))
      transport = .udp
      keep(length)
      advance(8)
      return nil
    case 6:
      guard has(20) else { return truncated(.tcp, 20) }
      let headerLength = Int(u8(12) >> 4) * 4
      guard headerLength >= 20 else {
        return .badLength(.tcp, length: headerLength, minimum: 20)
      }
      guard has(headerLength) else { return truncated(.tcp, headerLength) }
      srcPort = Int32(u16(0))
      dstPort = Int32(u16(2))
      transport = .tcp
      advance(headerLength)
      return nil
    default:
      return .unsupportedProtocol(proto)
    }
  }
}
