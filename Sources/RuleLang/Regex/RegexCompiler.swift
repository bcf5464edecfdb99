// Pattern → Thompson NFA → DFA by subset construction over byte classes → minimal DFA (Hopcroft).

/// A Thompson NFA with zero-width assertions for `^` and `$`.
struct RegexNFA {
  enum Node {
    /// Consumes one byte in `sets[set]`, then goes to `next`.
    case bytes(set: Int32, next: Int32)
    case split(Int32, Int32)
    /// Passable only at the start of the input.
    case assertStart(Int32)
    /// Passable only at the end of the input.
    case assertEnd(Int32)
    case match
  }

  private(set) var nodes: [Node] = []
  private(set) var sets: [RegexByteSet] = []
  private var setIndex: [RegexByteSet: Int32] = [:]
  private(set) var start: Int32 = 0
  /// Whether some node is a `^` assertion (only then does the first DFA state differ from a
  /// later one with the same NFA states).
  private(set) var hasStartAssertion = false

  init(_ root: RegexNode) {
    let match = add(.match)
    start = emit(root, next: match)
  }

  private mutating func add(_ node: Node) -> Int32 {
    nodes.append(node)
    return Int32(nodes.count - 1)
  }

  /// Emits nodes for `node` that continue to `next`; returns the entry node.
  private mutating func emit(_ node: RegexNode, next: Int32) -> Int32 {
    switch node {
    case .empty:
      return next
    case .bytes(let set):
      let index: Int32
      if let i = setIndex[set] {
        index = i
      } else {
        index = Int32(sets.count)
        sets.append(set)
        setIndex[set] = index
      }
      return add(.bytes(set: index, next: next))
    case .concat(let items):
      var entry = next
      for item in items.reversed() { entry = emit(item, next: entry) }
      return entry
    case .alternate(let branches):
      var entry = emit(branches[branches.count - 1], next: next)
      for branch in branches.dropLast().reversed() {
        entry = add(.split(emit(branch, next: next), entry))
      }
      return entry
    case .startOfInput:
      hasStartAssertion = true
      return add(.assertStart(next))
    case .endOfInput:
      return add(.assertEnd(next))
    case .repetition(let body, let min, let max):
      var entry = next
      if let max {
        // (x(x(x)?)?)? for the optional part
        for _ in 0..<(max - min) {
          entry = add(.split(emit(body, next: entry), next))
        }
      } else {
        let loop = add(.match)  // placeholder, patched below
        nodes[Int(loop)] = .split(emit(body, next: loop), next)
        entry = loop
      }
      for _ in 0..<min { entry = emit(body, next: entry) }
      return entry
    }
  }
}

/// A DFA whose transitions are indexed by byte class rather than by byte.
struct RegexClassDFA {
  /// The byte class of every byte.
  var classOf: [UInt8]
  var classCount: Int
  /// `transitions[state * classCount + class]`.
  var transitions: [Int32]
  /// State 0 is dead, state 1 is the accepting sink.
  var acceptingAtEnd: [Bool]
  var start: Int32

  var stateCount: Int { acceptingAtEnd.count }
  static let dead: Int32 = 0
  static let accept: Int32 = 1
}

/// Subset construction with the search semantics of `matches`: the NFA's start is re-entered
/// after every byte (an implicit leading `.*` over all bytes), and reaching `match` is final.
struct RegexDFABuilder {
  private let nfa: RegexNFA
  private var mark: [UInt32]
  private var generation: UInt32 = 0
  private var stack: [Int32] = []

  private struct Key: Hashable {
    var initial: Bool
    var states: [Int32]
  }

  init(nfa: RegexNFA) {
    self.nfa = nfa
    mark = [UInt32](repeating: 0, count: nfa.nodes.count)
  }

  /// The states reachable from `seeds` without consuming a byte: the byte-consuming nodes and
  /// the not-yet-passable `$` assertions, sorted; and whether `match` is among them.
  private mutating func closure(
    _ seeds: [Int32], atStart: Bool, atEnd: Bool
  ) -> (states: [Int32], match: Bool) {
    generation &+= 1
    if generation == 0 {
      for i in mark.indices { mark[i] = 0 }
      generation = 1
    }
    stack.removeAll(keepingCapacity: true)
    stack.append(contentsOf: seeds)
    var out: [Int32] = []
    var match = false
    while let s = stack.popLast() {
      if mark[Int(s)] == generation { continue }
      mark[Int(s)] = generation
      switch nfa.nodes[Int(s)] {
      case .bytes:
        out.append(s)
      case .split(let a, let b):
        stack.append(b)
        stack.append(a)
      case .assertStart(let next):
        if atStart { stack.append(next) }
      case .assertEnd(let next):
        if atEnd { stack.append(next) } else { out.append(s) }
      case .match:
        match = true
      }
    }
    Self.sort(&out)
    return (out, match)
  }

  /// Sorts a state list; insertion sort for the usual short lists.
  private static func sort(_ list: inout [Int32]) {
    guard list.count <= 32 else {
      list.sort()
      return
    }
    for i in list.indices.dropFirst() {
      let value = list[i]
      var j = i
      while j > 0, list[j - 1] > value {
        list[j] = list[j - 1]
        j -= 1
      }
      list[j] = value
    }
  }

  /// Byte classes: bytes that every set of the NFA treats alike share a class. Classes are
  /// numbered in order of their smallest byte.
  private static func byteClasses(_ sets: [RegexByteSet]) -> (classOf: [UInt8], count: Int) {
    var classOf = [Int](repeating: 0, count: 256)
    var count = 1
    for set in sets where count < 256 {
      var remap = [Int](repeating: -1, count: 2 * count)
      var next = 0
      for b in 0..<256 {
        let key = classOf[b] * 2 + (set.contains(UInt8(b)) ? 1 : 0)
        if remap[key] < 0 {
          remap[key] = next
          next += 1
        }
        classOf[b] = remap[key]
      }
      count = next
    }
    return (classOf.map { UInt8($0) }, count)
  }

  mutating func build(maxStates: Int) throws(RegexCompileError) -> RegexClassDFA {
    let (classOf, classCount) = Self.byteClasses(nfa.sets)
    var representative = [UInt8](repeating: 0, count: classCount)
    for b in (0..<256).reversed() { representative[Int(classOf[b])] = UInt8(b) }

    var stateSets: [[Int32]] = [[], []]
    var initialFlags = [false, false]
    var index: [Key: Int32] = [:]
    var transitions = [Int32](repeating: RegexClassDFA.dead, count: classCount)
    transitions += [Int32](repeating: RegexClassDFA.accept, count: classCount)
    var acceptingAtEnd = [false, true]

    func intern(_ states: [Int32], initial: Bool) throws(RegexCompileError) -> Int32 {
      let initial = initial && nfa.hasStartAssertion
      let key = Key(initial: initial, states: states)
      if let i = index[key] { return i }
      guard stateSets.count < maxStates else { throw .tooManyStates(limit: maxStates) }
      let i = Int32(stateSets.count)
      stateSets.append(states)
      initialFlags.append(initial)
      index[key] = i
      return i
    }

    let first = closure([nfa.start], atStart: true, atEnd: false)
    let start =
      first.match
      ? RegexClassDFA.accept
      : first.states.isEmpty ? RegexClassDFA.dead : try intern(first.states, initial: true)

    var seeds: [Int32] = []
    var i = 2
    while i < stateSets.count {
      let states = stateSets[i]
      for c in 0..<classCount {
        let byte = representative[c]
        seeds.removeAll(keepingCapacity: true)
        seeds.append(nfa.start)
        for s in states {
          if case .bytes(let set, let next) = nfa.nodes[Int(s)], nfa.sets[Int(set)].contains(byte) {
            seeds.append(next)
          }
        }
        let (target, match) = closure(seeds, atStart: false, atEnd: false)
        transitions.append(
          match
            ? RegexClassDFA.accept
            : target.isEmpty ? RegexClassDFA.dead : try intern(target, initial: false))
      }
      acceptingAtEnd.append(closure(states, atStart: initialFlags[i], atEnd: true).match)
      i += 1
    }
    return RegexClassDFA(
      classOf: classOf, classCount: classCount, transitions: transitions,
      acceptingAtEnd: acceptingAtEnd, start: start)
  }
}

extension RegexClassDFA {
  /// Hopcroft's partition refinement, then canonical numbering (dead state 0, then breadth first
  /// from the start in byte order; unreachable states are dropped).
  func minimized() -> RegexAutomaton {
    let n = stateCount
    let k = classCount

    // Predecessors by class: sources of transitions into `t` on class `c` are
    // predecessors[predecessorStart[c * n + t] ..< predecessorStart[c * n + t + 1]].
    var predecessorStart = [Int](repeating: 0, count: k * n + 1)
    for s in 0..<n {
      for c in 0..<k { predecessorStart[c * n + Int(transitions[s * k + c]) + 1] += 1 }
    }
    for i in 0..<(k * n) { predecessorStart[i + 1] += predecessorStart[i] }
    var predecessors = [Int32](repeating: 0, count: k * n)
    var fill = predecessorStart
    for s in 0..<n {
      for c in 0..<k {
        let slot = c * n + Int(transitions[s * k + c])
        predecessors[fill[slot]] = Int32(s)
        fill[slot] += 1
      }
    }

    // Initial partition: the accepting sink, other states accepting at end, the rest.
    func initialBlock(_ s: Int) -> Int { s == Int(Self.accept) ? 0 : acceptingAtEnd[s] ? 1 : 2 }
    var elements: [Int] = []
    elements.reserveCapacity(n)
    for block in 0..<3 {
      for s in 0..<n where initialBlock(s) == block { elements.append(s) }
    }
    var location = [Int](repeating: 0, count: n)
    var blockOf = [Int](repeating: 0, count: n)
    var blockStart: [Int] = []
    var blockEnd: [Int] = []
    for (position, s) in elements.enumerated() {
      location[s] = position
      if position == 0 || initialBlock(elements[position - 1]) != initialBlock(s) {
        blockStart.append(position)
        blockEnd.append(position)
      }
      blockOf[s] = blockStart.count - 1
      blockEnd[blockStart.count - 1] = position + 1
    }
    var marked = [Int](repeating: 0, count: blockStart.count)
    var inWorklist = [Bool](repeating: true, count: blockStart.count)
    var worklist = Array(0..<blockStart.count)
    var touched: [Int] = []

    while let splitter = worklist.popLast() {
      inWorklist[splitter] = false
      let members = Array(elements[blockStart[splitter]..<blockEnd[splitter]])
      for c in 0..<k {
        touched.removeAll(keepingCapacity: true)
        for t in members {
          for p in predecessorStart[c * n + t]..<predecessorStart[c * n + t + 1] {
            let s = Int(predecessors[p])
            let b = blockOf[s]
            let destination = blockStart[b] + marked[b]
            let other = elements[destination]
            elements[location[s]] = other
            location[other] = location[s]
            elements[destination] = s
            location[s] = destination
            marked[b] += 1
            if marked[b] == 1 { touched.append(b) }
          }
        }
        for b in touched {
          let m = marked[b]
          marked[b] = 0
          let size = blockEnd[b] - blockStart[b]
          if m == size { continue }
          let newBlock = blockStart.count
          blockStart.append(blockStart[b])
          blockEnd.append(blockStart[b] + m)
          marked.append(0)
          inWorklist.append(false)
          blockStart[b] += m
          for position in blockStart[newBlock]..<blockEnd[newBlock] {
            blockOf[elements[position]] = newBlock
          }
          let add = inWorklist[b] || m <= size - m ? newBlock : b
          worklist.append(add)
          inWorklist[add] = true
        }
      }
    }

    // Canonical numbering.
    let blockCount = blockStart.count
    var number = [Int32](repeating: -1, count: blockCount)
    let deadBlock = blockOf[Int(Self.dead)]
    number[deadBlock] = 0
    var order = [deadBlock]
    if number[blockOf[Int(start)]] < 0 {
      number[blockOf[Int(start)]] = 1
      order.append(blockOf[Int(start)])
    }
    // Classes are numbered in order of their smallest byte, so visiting them in order visits
    // targets in byte order.
    var next = 1
    while next < order.count {
      let representative = elements[blockStart[order[next]]]
      for c in 0..<k {
        let target = blockOf[Int(transitions[representative * k + c])]
        if number[target] < 0 {
          number[target] = Int32(order.count)
          order.append(target)
        }
      }
      next += 1
    }

    var table = [UInt32](repeating: 0, count: order.count * 256)
    var accepting = [Bool]()
    var atEnd = [Bool]()
    var row = [UInt32](repeating: 0, count: k)
    table.withUnsafeMutableBufferPointer { table in
      for (i, block) in order.enumerated() {
        let representative = elements[blockStart[block]]
        for c in 0..<k {
          row[c] = UInt32(number[blockOf[Int(transitions[representative * k + c])]])
        }
        for b in 0..<256 { table[i * 256 + b] = row[Int(classOf[b])] }
        accepting.append(representative == Int(Self.accept))
        atEnd.append(acceptingAtEnd[representative])
      }
    }
    return RegexAutomaton(
      transitions: table, accepting: accepting, acceptingAtEnd: atEnd,
      start: UInt32(number[blockOf[Int(start)]]))
  }
}
