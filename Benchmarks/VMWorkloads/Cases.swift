import RuleLang
import VM

/// One measured case: a name shared by the benchmark and the callgrind driver, and its loop.
public struct Case {
  public let name: String
  /// Evaluates packets `range` (modulo `Frames.count`); returns a checksum.
  public let run: (Range<Int>) -> Int
  /// The checksum of one pass over all packets, from the rules' meaning: `check()` compares.
  let expected: Int

  /// Runs one pass and stops the process if the verdicts are not the expected ones (a BPF
  /// expression that is not equivalent, a packet set that does not hit the rule it should).
  public func check() {
    let got = run(0..<Frames.count)
    if got != expected { fatalError("\(name): checksum \(got), expected \(expected)") }
  }
}

/// Builds cases by name, compiling each rule set and building each packet set once.
public final class CaseBuilder: @unchecked Sendable {
  public static let ruleCounts = [10, 1_000, 10_000]

  public static var allNames: [String] {
    var names: [String] = []
    for rule in ["seed", "ten"] {
      for set in ["match", "reject"] {
        for variant in ["vm", "decode-vm", "bpf", "reference"] {
          names.append("\(rule)-\(set)-\(variant)")
        }
      }
    }
    names += ["decode-only", "decode-result-only"]
    for count in ruleCounts {
      for set in ["last", "none"] { names.append("rules-\(count)-\(set)-vm") }
    }
    return names
  }

  let rewrites = Workloads.rewriteBuffer()
  var programs: [String: VerifiedProgram] = [:]
  var checked: [String: CheckedFile] = [:]
  var filters: [String: BPFFilter] = [:]
  var frames: [String: Frames] = [:]

  public init() {}

  func program(_ source: String) -> VerifiedProgram {
    if let p = programs[source] { return p }
    let p = Workloads.compile(source, name: "bench.rules")
    programs[source] = p
    return p
  }

  func checkedFile(_ source: String) -> CheckedFile {
    if let c = checked[source] { return c }
    let c = Workloads.check(source, name: "bench.rules")
    checked[source] = c
    return c
  }

  func filter(_ expression: String) -> BPFFilter {
    if let f = filters[expression] { return f }
    let f = BPFFilter(expression)
    filters[expression] = f
    return f
  }

  func packets(_ key: String, _ make: () -> Frames) -> Frames {
    if let f = frames[key] { return f }
    let f = make()
    frames[key] = f
    return f
  }

  /// The case called `name` (one of `allNames`), or nil.
  public func make(_ name: String) -> Case? {
    let parts = name.split(separator: "-", maxSplits: 2).map(String.init)
    guard parts.count >= 2 else { return nil }
    let rewrites = self.rewrites
    let n = Frames.count
    if name == "decode-only" {
      let f = packets("match", Workloads.matching)
      return Case(name: name, run: { Loops.decode(f, $0) }, expected: 9001 * n)
    }
    if name == "decode-result-only" {
      let f = packets("match", Workloads.matching)
      return Case(name: name, run: { Loops.decodeResult(f, $0) }, expected: 9001 * n)
    }
    if parts[0] == "rules", parts.count == 3 {
      // rules-COUNT-SET-vm
      let rest = parts[2].split(separator: "-").map(String.init)
      guard let count = Int(parts[1]), rest.count == 2, rest[1] == "vm" else { return nil }
      let p = program(Workloads.indexableRules(count))
      switch rest[0] {
      case "last":
        let f = packets("last-\(count)") { Workloads.hittingLastRule(count) }
        return Case(name: name, run: { Loops.vm(p, f, $0, rewrites) }, expected: (count - 1) * n)
      case "none":
        let f = packets("none", Workloads.hittingNoRule)
        return Case(name: name, run: { Loops.vm(p, f, $0, rewrites) }, expected: -n)
      default: return nil
      }
    }
    guard parts.count == 3 else { return nil }
    let (source, expression, rulelist): (String, String, String)
    switch parts[0] {
    case "seed": (source, expression, rulelist) = (Workloads.seedRule, Workloads.seedFilter, "seed")
    case "ten": (source, expression, rulelist) = (Workloads.tenRule, Workloads.tenFilter, "ten")
    default: return nil
    }
    let matches: Bool
    let f: Frames
    switch parts[1] {
    case "match":
      matches = true
      f = packets("match", Workloads.matching)
    case "reject":
      matches = false
      f = packets("reject", Workloads.rejected)
    default: return nil
    }
    switch parts[2] {
    case "vm":
      let p = program(source)
      return Case(
        name: name, run: { Loops.vm(p, f, $0, rewrites) }, expected: matches ? 0 : -n)
    case "decode-vm":
      let p = program(source)
      return Case(
        name: name, run: { Loops.decodeVM(p, f, $0, rewrites) }, expected: matches ? 0 : -n)
    case "bpf":
      let b = filter(expression)
      return Case(name: name, run: { Loops.bpf(b, f, $0) }, expected: matches ? n : 0)
    case "reference":
      let c = checkedFile(source)
      return Case(
        name: name, run: { Loops.reference(c, rulelist, f, $0) }, expected: matches ? 0 : -n)
    default: return nil
    }
  }

  /// The BPF programs, for the record (`tcpdump -d` style).
  public func bpfListing(_ expression: String) -> [String] { filter(expression).listing }
}
