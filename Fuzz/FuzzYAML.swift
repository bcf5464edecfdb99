// libFuzzer target for the YAML reader (Sources/Config/YAML): every input goes through
// `YAMLReader.documents` with small limits, then each document through `YAMLWriter` and back.
// Besides crashes, sanitizer reports and timeouts, it traps when:
//
// - an error or a node has a position outside the input (line 0, or past the last line);
// - a document written by `YAMLWriter` does not read back to the same values.
//
// Compiled as one module with the sources of `Config`. Build and run with `Fuzz/run-yaml.sh`.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  let bytes = Array(UnsafeBufferPointer(start: data, count: size))
  // An upper bound on YAML's lines: it also breaks lines at CR, NEL, LS and PS.
  let lines = bytes.count { $0 == 0x0A || $0 == 0x0D || $0 == 0x85 || $0 == 0xA8 || $0 == 0xA9 } + 1
  let limits = YAMLLimits(
    maxBytes: 1 << 16, maxDepth: 64, maxNodes: 100_000, maxAliasExpansion: 10_000)
  let docs: [YAMLNode]
  do {
    docs = try YAMLReader.documents(bytes, name: "fuzz", limits: limits)
  } catch {
    if let line = error.line {
      precondition(line >= 1 && line <= lines + 1, "error line \(line) outside")
    }
    return 0
  }
  for doc in docs {
    precondition(doc.mark.line >= 1 && doc.mark.line <= lines + 1, "node line outside the input")
    guard writable(doc) else { continue }
    let text = YAMLWriter.write(doc)
    guard let again = try? YAMLReader.document(Array(text.utf8), name: "written") else {
      preconditionFailure("written YAML does not read back:\n\(text)")
    }
    precondition(sameValues(doc, again), "written YAML reads back different:\n\(text)")
  }
  return 0
}

/// Equal values, whatever the positions (NaN equals NaN).
func sameValues(_ a: YAMLNode, _ b: YAMLNode) -> Bool {
  switch (a.content, b.content) {
  case (.scalar(let x), .scalar(let y)):
    if case .float(let p) = x.value, case .float(let q) = y.value {
      return p == q || (p.isNaN && q.isNaN)
    }
    return x.value == y.value
  case (.sequence(let x), .sequence(let y)):
    return x.count == y.count && zip(x, y).allSatisfy { sameValues($0, $1) }
  case (.mapping(let x), .mapping(let y)):
    return x.count == y.count
      && zip(x, y).allSatisfy { sameValues($0.key, $1.key) && sameValues($0.value, $1.value) }
  default:
    return false
  }
}

/// Documents the writer promises to round-trip: scalar keys short enough for a simple key.
func writable(_ n: YAMLNode) -> Bool {
  switch n.content {
  case .scalar: return true
  case .sequence(let items): return items.allSatisfy(writable)
  case .mapping(let pairs):
    return pairs.allSatisfy { p in
      p.key.scalar.map { $0.text.utf8.count < 500 && !$0.text.contains("\n") } == true
        && writable(p.value)
    }
  }
}
