import RuleLang

/// What the VM knows about one packet: addresses and ports from the socket, the payload, and the
/// HTTP request of a WebSocket connection. It holds only unsafe views, never owning references, so
/// building one and evaluating rules on it costs no allocation and no reference counting. The
/// views must stay valid while `VM.evaluate` runs; `OwnedPacket` is a safe owner for tests and tools.
public struct PacketView {
  public var srcAddr = IPAddress(v4: 0)
  public var dstAddr = IPAddress(v4: 0)
  public var hasAddresses = false
  /// -1 when absent.
  public var srcPort: Int32 = -1
  public var dstPort: Int32 = -1
  public var payload: UnsafeRawBufferPointer? = nil
  public var httpMethod: UnsafeRawBufferPointer? = nil
  public var httpPath: UnsafeRawBufferPointer? = nil
  public var httpQuery: UnsafeRawBufferPointer? = nil
  public var httpHost: UnsafeRawBufferPointer? = nil
  public var unixFilename: UnsafeRawBufferPointer? = nil
  /// Header names in lower case.
  public var headers: UnsafeBufferPointer<HeaderField>? = nil
  public var labels: UnsafeBufferPointer<LabelField>? = nil

  public init() {}
}

public struct HeaderField {
  public var name: UnsafeRawBufferPointer
  public var value: UnsafeRawBufferPointer
  public init(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
    self.name = name
    self.value = value
  }
}

/// A label or JSONSocket field: `name` is the path after `labels.` (or the whole `JSONSocket.…`
/// path for JSONSocket fields).
public struct LabelField {
  public var name: UnsafeRawBufferPointer
  public var value: DynamicValue
  public init(name: UnsafeRawBufferPointer, value: DynamicValue) {
    self.name = name
    self.value = value
  }
}

/// A value typed at run time.
public enum DynamicValue {
  case int(Int64)
  case bytes(UnsafeRawBufferPointer)
  case ip(IPAddress)
}

/// A packet that owns its bytes, for tests, the CLI and the REPL: `withView` lends a `PacketView`.
public struct OwnedPacket: Sendable, Hashable {
  public enum Value: Sendable, Hashable {
    case int(Int64)
    case bytes([UInt8])
    case ip(IPAddress)
  }

  public var srcAddr: IPAddress? = nil
  public var dstAddr: IPAddress? = nil
  public var srcPort: Int? = nil
  public var dstPort: Int? = nil
  public var payload: [UInt8]? = nil
  public var httpMethod: String? = nil
  public var httpPath: String? = nil
  public var httpQuery: String? = nil
  public var httpHost: String? = nil
  public var unixFilename: String? = nil
  /// Header names are matched case-insensitively.
  public var headers: [(name: String, value: String)] = []
  public var labels: [(name: String, value: Value)] = []

  public init() {}

  public static func == (a: OwnedPacket, b: OwnedPacket) -> Bool {
    a.srcAddr == b.srcAddr && a.dstAddr == b.dstAddr && a.srcPort == b.srcPort
      && a.dstPort == b.dstPort && a.payload == b.payload && a.httpMethod == b.httpMethod
      && a.httpPath == b.httpPath && a.httpQuery == b.httpQuery && a.httpHost == b.httpHost
      && a.unixFilename == b.unixFilename && a.headers.map(\.name) == b.headers.map(\.name)
      && a.headers.map(\.value) == b.headers.map(\.value)
      && a.labels.map(\.name) == b.labels.map(\.name)
      && a.labels.map(\.value) == b.labels.map(\.value)
  }

  public func hash(into h: inout Hasher) {
    h.combine(srcAddr)
    h.combine(srcPort)
    h.combine(payload)
  }

  /// Lends a view of this packet to `body`.
  public func withView<R>(_ body: (PacketView) throws -> R) rethrows -> R {
    // Every byte string goes into one arena; views point into it.
    var arena: [UInt8] = []
    func add(_ bytes: [UInt8]?) -> Range<Int>? {
      guard let bytes else { return nil }
      let start = arena.count
      arena += bytes
      return start..<arena.count
    }
    let payloadRange = add(payload)
    let method = add(httpMethod.map { Array($0.utf8) })
    let path = add(httpPath.map { Array($0.utf8) })
    let query = add(httpQuery.map { Array($0.utf8) })
    let host = add(httpHost.map { Array($0.utf8) })
    let unix = add(unixFilename.map { Array($0.utf8) })
    let headerRanges = headers.map {
      (add(Array($0.name.lowercased().utf8))!, add(Array($0.value.utf8))!)
    }
    let labelRanges = labels.map { l -> (Range<Int>, Range<Int>?) in
      if case .bytes(let b) = l.value { return (add(Array(l.name.utf8))!, add(b)) }
      return (add(Array(l.name.utf8))!, nil)
    }
    arena.append(0)  // never empty, so the base address exists
    return try arena.withUnsafeBytes { raw in
      func view(_ r: Range<Int>?) -> UnsafeRawBufferPointer? {
        r.map { UnsafeRawBufferPointer(rebasing: raw[$0]) }
      }
      var v = PacketView()
      if let s = srcAddr, let d = dstAddr {
        v.srcAddr = s
        v.dstAddr = d
        v.hasAddresses = true
      }
      v.srcPort = srcPort.map { Int32(truncatingIfNeeded: $0) } ?? -1
      v.dstPort = dstPort.map { Int32(truncatingIfNeeded: $0) } ?? -1
      v.payload = view(payloadRange)
      v.httpMethod = view(method)
      v.httpPath = view(path)
      v.httpQuery = view(query)
      v.httpHost = view(host)
      v.unixFilename = view(unix)
      let hs = headerRanges.map { HeaderField(name: view($0.0)!, value: view($0.1)!) }
      let ls = zip(labels, labelRanges).map { (l, r) -> LabelField in
        let value: DynamicValue
        switch l.value {
        case .int(let i): value = .int(i)
        case .ip(let a): value = .ip(a)
        case .bytes: value = .bytes(view(r.1)!)
        }
        return LabelField(name: view(r.0)!, value: value)
      }
      return try hs.withUnsafeBufferPointer { hp in
        try ls.withUnsafeBufferPointer { lp in
          v.headers = hp
          v.labels = lp
          return try body(v)
        }
      }
    }
  }
}
