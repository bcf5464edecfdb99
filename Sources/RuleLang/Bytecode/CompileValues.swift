/// Values: expressions loaded into registers, and `set` actions.
extension RuleCompiler {
  // MARK: fields

  func pathNames(_ e: Expr) -> [String]? {
    if case .paren(let x) = e.kind { return pathNames(x) }
    guard case .path(let segs) = e.kind, e.constReference == nil else { return nil }
    return segs.map(\.name)
  }

  func intField(_ e: Expr) -> Field? {
    guard let p = pathNames(e), p.count == 2, p[0] == "UDP" || p[0] == "TCP" else { return nil }
    return p[1] == "src_port" ? .srcPort : p[1] == "dst_port" ? .dstPort : nil
  }

  func ipField(_ e: Expr) -> Field? {
    guard let p = pathNames(e), p.count == 2, p[0] == "IP" else { return nil }
    return p[1] == "src_addr" ? .srcAddr : p[1] == "dst_addr" ? .dstAddr : nil
  }

  func bytesField(_ e: Expr) -> Field? {
    guard let p = pathNames(e) else { return nil }
    // A field some `set` writes is read through the rewrites (`ldhdr`), never from the packet.
    if p.first == "HTTP", writtenPaths.contains(p.joined(separator: ".")) { return nil }
    switch p {
    case ["payload"]: return .payload
    case ["HTTP", "method"]: return .httpMethod
    case ["HTTP", "url", "path"]: return .httpPath
    case ["HTTP", "url", "query"]: return .httpQuery
    case ["HTTP", "url", "host"]: return .httpHost
    case ["UNIX", "filename"]: return .unixFilename
    default: return nil
    }
  }

  /// The constant naming a header, label or JSONSocket path; header names fold to lower case.
  mutating func pathConstant(_ names: [String]) -> UInt16 {
    var names = names
    if names.count == 3, names[0] == "HTTP", names[1] == "headers" {
      names[2] = names[2].lowercased()
    }
    return constant(.path(names.joined(separator: ".")))
  }

  /// Whether a path is a named, dynamic-or-optional entry (header, label, JSONSocket field), or
  /// an HTTP field that a `set` writes: these are read by name, rewrites first.
  func namedPath(_ names: [String]) -> Bool {
    (names.count == 3 && names[0] == "HTTP" && names[1] == "headers")
      || (names.count >= 2 && (names[0] == "labels" || names[0] == "JSONSocket"))
      || (names.first == "HTTP" && writtenPaths.contains(names.joined(separator: ".")))
  }

  // MARK: registers

  mutating func allocInt() -> Int {
    allocate(\.nextInt, limit: Registers.ints, "integer")
  }

  mutating func allocBytes() -> Int {
    allocate(\.nextBytes, limit: Registers.bytes, "byte-string")
  }

  mutating func allocIP() -> Int {
    allocate(\.nextIP, limit: Registers.ips, "address")
  }

  /// The next free register of a file; past its end, a compile error (and the last register, so
  /// compilation can go on to report more).
  mutating func allocate(
    _ next: WritableKeyPath<RuleCompiler, Int>, limit: Int, _ what: String
  ) -> Int {
    let register = self[keyPath: next]
    guard register < limit else {
      fail("expression is too complex: it needs more than \(limit) \(what) registers")
      return limit - 1
    }
    self[keyPath: next] = register + 1
    return register
  }

  // MARK: reuse

  /// The register holding `e`, loading it only when this rule has not already loaded it on the way
  /// here (`len(payload) < 8 or len(payload) > 1400` loads the length once).
  mutating func reusing(_ kind: String, _ e: Expr, _ load: (inout RuleCompiler) -> Int) -> Int {
    if e.constant != nil { return load(&self) }
    let key = kind + ":" + ExprPrinter.print(e)
    if let r = available[key] { return r }
    let r = load(&self)
    available[key] = r
    return r
  }

  mutating func compileInt(_ e: Expr) -> Int { reusing("int", e) { $0.loadInt(e) } }

  func unparenthesized(_ e: Expr) -> Expr {
    if case .paren(let x) = e.kind { return unparenthesized(x) }
    return e
  }
  mutating func compileBytes(_ e: Expr) -> Int { reusing("bytes", e) { $0.loadBytes(e) } }
  mutating func compileIP(_ e: Expr) -> Int { reusing("ip", e) { $0.loadIP(e) } }

  // MARK: int values

  mutating func loadInt(_ e: Expr) -> Int {
    if e.constant == nil, e.type.unwrapped == .bool {
      // A condition as a value (`set labels.ok = payload[0] == 1`, `(a) == (b)`): 1 or 0.
      let r = allocInt()
      let done = newLabel()
      emit(Instruction(.ldi, a: UInt8(r), c: 0))
      emitJump(e, when: false, to: done)
      emit(Instruction(.ldi, a: UInt8(r), c: 1))
      place(done)
      return r
    }
    if let v = e.constant, let x = Intervals.int(v) ?? boolInt(v) {
      let r = allocInt()
      if (0...Int64(UInt32.max)).contains(x) {
        emit(Instruction(.ldi, a: UInt8(r), c: UInt32(x)))
      } else {
        emit(Instruction(.ldk, a: UInt8(r), c: UInt32(constant(.int(x)))))
      }
      return r
    }
    switch e.kind {
    case .paren(let x): return compileInt(x)
    case .path(let segs):
      let names = segs.map(\.name)
      if let f = intField(e) {
        let r = allocInt()
        emit(Instruction(.ldf, a: UInt8(r), b: UInt16(f.rawValue)))
        return r
      }
      if namedPath(names) {
        let r = allocInt()
        emit(Instruction(.ldlab, a: UInt8(r), b: 0, c: UInt32(pathConstant(names))))
        return r
      }
    case .index(let base, let index):
      return compileLoad(.ldb, .ldbx, base, index)
    case .call(let name, let args):
      switch name.text {
      case "len":
        let s = compileBytes(args[0])
        let r = allocInt()
        emit(Instruction(.len, a: UInt8(r), b: UInt16(s)))
        return r
      case "u8": return compileLoad(.ldb, .ldbx, args[0], args[1])
      case "u16": return compileLoad(.ldh, .ldhx, args[0], args[1])
      case "u32": return compileLoad(.ldw, .ldwx, args[0], args[1])
      default: break
      }
    case .binary(.bitAnd, let l, let r, _):
      let (x, y) = l.constant != nil && r.constant == nil ? (r, l) : (l, r)
      // `andi` changes the register in place: not one an earlier operand may share.
      let a = loadInt(unparenthesized(x))
      if let v = y.constant, let m = Intervals.int(v) {
        if (0...Int64(UInt32.max)).contains(m) {
          emit(Instruction(.andi, a: UInt8(a), c: UInt32(m)))
        } else {
          emit(Instruction(.andk, a: UInt8(a), c: UInt32(constant(.int(m)))))
        }
      } else {
        let b = compileInt(y)
        emit(Instruction(.andr, a: UInt8(a), b: UInt16(b)))
      }
      return a
    default: break
    }
    fail("cannot compute '\(ExprPrinter.print(e))' as an int")
    return allocInt()
  }

  /// `payload[i]`, `u16(b, off)`: a constant offset goes in the instruction.
  mutating func compileLoad(_ constOp: Opcode, _ regOp: Opcode, _ base: Expr, _ offset: Expr) -> Int
  {
    let s = compileBytes(base)
    if let v = offset.constant, let off = Intervals.int(v) {
      let r = allocInt()
      if (0...Int64(UInt32.max)).contains(off) {
        emit(Instruction(constOp, a: UInt8(r), b: UInt16(s), c: UInt32(off)))
      } else {
        // Far past any packet: loads as not present.
        emit(Instruction(constOp, a: UInt8(r), b: UInt16(s), c: UInt32.max))
      }
      return r
    }
    let o = compileInt(offset)
    let r = allocInt()
    emit(Instruction(regOp, a: UInt8(r), b: UInt16(s), c: UInt32(o)))
    return r
  }

  // MARK: bytes values

  mutating func loadBytes(_ e: Expr) -> Int {
    if let v = e.constant, let b = bytesOf(v) {
      let r = allocBytes()
      emit(Instruction(.ldsk, a: UInt8(r), c: UInt32(constant(.bytes(b)))))
      return r
    }
    switch e.kind {
    case .paren(let x): return compileBytes(x)
    case .path(let segs):
      let names = segs.map(\.name)
      if names == ["payload"] { return 0 }
      if let f = bytesField(e) {
        let r = allocBytes()
        emit(Instruction(.lds, a: UInt8(r), b: UInt16(f.rawValue)))
        return r
      }
      if namedPath(names) {
        let r = allocBytes()
        let k = UInt32(pathConstant(names))
        if names[0] == "HTTP" {
          emit(Instruction(.ldhdr, a: UInt8(r), c: k))
        } else {
          emit(Instruction(.ldlab, a: UInt8(r), b: 1, c: k))
        }
        return r
      }
    case .slice(let base, let offset, let length):
      // The slice may go in place: not into a register an earlier operand may share.
      let src = loadBytes(unparenthesized(base))
      let dst = src == 0 ? allocBytes() : src
      let a = UInt8(dst) | UInt8(src) << 4
      if let ov = offset.constant, let o = Intervals.int(ov), let lv = length.constant,
        let l = Intervals.int(lv), (0...0xFFFF).contains(o), (0...Int64(UInt32.max)).contains(l)
      {
        emit(Instruction(.slice, a: a, b: UInt16(o), c: UInt32(l)))
      } else {
        let o = compileInt(offset)
        let l = compileInt(length)
        emit(Instruction(.slicex, a: a, b: UInt16(o), c: UInt32(l)))
      }
      return dst
    case .call(let name, let args) where name.text == "lower":
      // `fold` changes the register in place: not one an earlier operand may share.
      let src = loadBytes(unparenthesized(args[0]))
      var dst = src
      if src == 0 {
        dst = allocBytes()
        emit(Instruction(.movs, a: UInt8(dst), b: 0))
      }
      emit(Instruction(.fold, a: UInt8(dst)))
      return dst
    default: break
    }
    fail("cannot compute '\(ExprPrinter.print(e))' as bytes")
    return allocBytes()
  }

  // MARK: address values

  mutating func loadIP(_ e: Expr) -> Int {
    if case .ip(let a)? = e.constant {
      let r = allocIP()
      emit(Instruction(.ldipk, a: UInt8(r), c: UInt32(constant(.ip(a)))))
      return r
    }
    if case .paren(let x) = e.kind { return compileIP(x) }
    if let f = ipField(e) {
      let r = allocIP()
      emit(Instruction(.ldip, a: UInt8(r), b: UInt16(f.rawValue)))
      return r
    }
    if let names = pathNames(e), namedPath(names) {
      let r = allocIP()
      emit(Instruction(.ldlab, a: UInt8(r), b: 2, c: UInt32(pathConstant(names))))
      return r
    }
    fail("cannot compute '\(ExprPrinter.print(e))' as an address")
    return allocIP()
  }

  // MARK: set

  mutating func compileSet(_ target: Expr, _ value: Expr) {
    guard let names = pathNames(target) else {
      fail("'set' needs a metadata path")
      return
    }
    let path = pathConstant(names)
    if let v = value.constant {
      let k: Constant
      switch v {
      case .int(let x), .duration(let x): k = .int(x)
      case .bool(let b): k = .int(b ? 1 : 0)
      case .string(let s): k = .bytes(Array(s.utf8))
      case .bytes(let b): k = .bytes(b)
      case .ip(let a): k = .ip(a)
      default:
        fail("'set' cannot store \(v)")
        return
      }
      emit(Instruction(.setk, b: path, c: UInt32(constant(k))))
      return
    }
    switch value.type.unwrapped {
    case .dynamic:
      // A label of whatever kind it holds: at most one of the three loads is present, and only a
      // present register is recorded.
      let (i, s, a) = (compileInt(value), compileBytes(value), compileIP(value))
      emit(Instruction(.setr, a: UInt8(i), b: path))
      emit(Instruction(.sets, a: UInt8(s), b: path))
      emit(Instruction(.setip, a: UInt8(a), b: path))
    case .ip:
      emit(Instruction(.setip, a: UInt8(compileIP(value)), b: path))
    case .string, .bytes:
      emit(Instruction(.sets, a: UInt8(compileBytes(value)), b: path))
    default:
      emit(Instruction(.setr, a: UInt8(compileInt(value)), b: path))
    }
  }
}
