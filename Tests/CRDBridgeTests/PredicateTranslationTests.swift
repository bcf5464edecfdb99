import CRDBridge
import Testing

/// Every JSONPredicate op and form, alone and nested, as rule-language conditions that check.
@Suite struct PredicateTranslationTests {
  @Test(arguments: [
    ("{op: test, path: /UDP/src_port, value: 9001}", "UDP", "UDP.src_port == 9001"),
    ("{op: test, path: /IP/src_addr, value: '127.0.0.4'}", "UDP", "IP.src_addr == \"127.0.0.4\""),
    ("{op: starts, path: /IP/src_addr, value: '10.0.0'}", "UDP", "IP.src_addr starts \"10.0.0\""),
    (
      "{op: starts, path: /HTTP/url/path, value: /api}", "WebSocket",
      "HTTP.url.path starts \"/api\""
    ),
    ("{op: ends, path: /HTTP/url/path, value: .json}", "WebSocket", "HTTP.url.path ends \".json\""),
    (
      "{op: contains, path: /HTTP/headers/user-agent, value: Mozilla}", "WebSocket",
      "HTTP.headers.user-agent contains \"Mozilla\""
    ),
    (
      "{op: matches, path: /HTTP/method, value: '^(GET|POST)$'}", "WebSocket",
      "HTTP.method matches \"^(GET|POST)$\""
    ),
    ("{op: less, path: /UDP/dst_port, value: 1024}", "UDP", "UDP.dst_port < 1024"),
    ("{op: more, path: /TCP/src_port, value: 1023}", "TCP", "TCP.src_port > 1023"),
    ("{op: in, path: /UDP/dst_port, value: [5060, 5061]}", "UDP", "UDP.dst_port in {5060, 5061}"),
    ("{op: defined, path: /HTTP/headers/id}", "WebSocket", "defined(HTTP.headers.id)"),
    ("{op: undefined, path: /HTTP/headers/id}", "WebSocket", "not defined(HTTP.headers.id)"),
    (
      "{op: test, path: /HTTP/method, value: get, ignore_case: true}", "WebSocket",
      "lower(HTTP.method) == \"get\""
    ),
    (
      "{op: starts, path: /HTTP/url/path, value: /API, ignore_case: true}", "WebSocket",
      "lower(HTTP.url.path) starts \"/api\""
    ),
    (
      "{op: matches, path: /HTTP/url/path, value: 'a+', ignore_case: true}", "WebSocket",
      "HTTP.url.path matches \"(?i)a+\""
    ),
    (
      "{op: test, path: '/HTTP/headers/x y', value: a}", "WebSocket",
      "HTTP.headers[\"x y\"] == \"a\""
    ),
    (
      "{op: test, path: 'HTTP/headers/a~1b', value: a}", "WebSocket",
      "HTTP.headers[\"a/b\"] == \"a\""
    ),
    ("{op: test, path: /labels/tenant, value: blue}", "UDP", "labels.tenant == \"blue\""),
  ])
  func singleOps(match: String, proto: String, expected: String) {
    let t = Fixture.translate(Fixture.rule(match: match, proto: proto))
    #expect(Fixture.condition(t) == expected, "\(Fixture.messages(t))")
    #expect(!t.diagnostics.hasErrors, "\(Fixture.messages(t))")
  }

  @Test(arguments: [
    (
      "{op: and, apply: [{op: starts, path: /IP/src_addr, value: '10.0.0'}, {op: test, path: /UDP/src_port, value: 9001}]}",
      "IP.src_addr starts \"10.0.0\" and UDP.src_port == 9001"
    ),
    (
      "{op: or, apply: [{op: test, path: /UDP/src_port, value: 1}, {op: test, path: /UDP/src_port, value: 2}]}",
      "UDP.src_port == 1 or UDP.src_port == 2"
    ),
    (
      "{op: and, apply: [{op: or, apply: [{op: test, path: /UDP/src_port, value: 1}, {op: test, path: /UDP/src_port, value: 2}]}, {op: less, path: /UDP/dst_port, value: 100}]}",
      "(UDP.src_port == 1 or UDP.src_port == 2) and UDP.dst_port < 100"
    ),
    (
      "{op: not, apply: [{op: test, path: /UDP/src_port, value: 1}]}",
      "not (UDP.src_port == 1)"
    ),
    (
      "{op: not, apply: [{op: test, path: /UDP/src_port, value: 1}, {op: test, path: /UDP/src_port, value: 2}]}",
      "not (UDP.src_port == 1 or UDP.src_port == 2)"
    ),
    (
      "{op: and, path: /UDP, apply: [{op: test, path: /src_port, value: 1}, {op: more, path: dst_port, value: 2}]}",
      "UDP.src_port == 1 and UDP.dst_port > 2"
    ),
    (
      "{op: or, apply: [{op: not, apply: [{op: defined, path: /labels/a}]}, {op: and, apply: [{op: in, path: /UDP/dst_port, value: [1, 2]}, {op: starts, path: /IP/dst_addr, value: '192.168'}]}]}",
      "not (defined(labels.a)) or UDP.dst_port in {1, 2} and IP.dst_addr starts \"192.168\""
    ),
  ])
  func nestedOps(match: String, expected: String) {
    let t = Fixture.translate(Fixture.rule(match: match))
    #expect(Fixture.condition(t) == expected, "\(Fixture.messages(t))")
    #expect(!t.diagnostics.hasErrors, "\(Fixture.messages(t))")
  }

  @Test(arguments: [
    ("{path: HTTP/headers, value: {id: 1}}", "set HTTP.headers.id = 1"),
    ("{path: /HTTP/headers/id, value: '1'}", "set HTTP.headers.id = \"1\""),
    ("{path: /labels/tenant, value: blue}", "set labels.tenant = \"blue\""),
    ("{path: /labels/on, value: true}", "set labels.on = true"),
    ("{path: /labels, value: {a: 1, b: x}}", "set labels.a = 1\n    set labels.b = \"x\""),
    ("{path: HTTP, value: {headers: {id: 1}}}", "set HTTP.headers.id = 1"),
    (
      "{path: /HTTP/headers, value: {x-id: 7, x-name: n}}",
      "set HTTP.headers.x-id = 7\n    set HTTP.headers.x-name = \"n\""
    ),
  ])
  func rewrites(rewrite: String, expected: String) {
    let t = Fixture.translate(
      Fixture.rule(
        match: "{op: test, path: /UDP/src_port, value: 1}",
        extra: "rewrite: [\(rewrite)]\n          "))
    let source = t.listeners.first?.source ?? ""
    #expect(source.contains(expected), "\(source) \(Fixture.messages(t))")
    #expect(!t.diagnostics.hasErrors, "\(Fixture.messages(t))")
  }

  @Test(arguments: [
    (
      "{op: les, path: /UDP/src_port, value: 1}",
      "t.yaml:10:21: error: unknown match op 'les'; expected one of: and, or, not,"
    ),
    (
      "{op: less, path: /HTTP/method, value: GET}",
      "t.yaml:10:54: error: 'less' compares numbers; the value is the string 'GET'"
    ),
    (
      "{op: in, path: /UDP/src_port, value: 9001}",
      "t.yaml:10:53: error: 'in' needs a list value, found the integer 9001"
    ),
    (
      "{op: in, path: /UDP/src_port, value: []}",
      "t.yaml:10:53: error: 'in' with an empty list never matches"
    ),
    (
      "{op: contains, path: /UDP/src_port, value: 90}",
      "t.yaml:10:59: error: 'contains' needs a string value, found the integer 90"
    ),
    ("{op: and, apply: []}", "t.yaml:10:21: error: 'and' needs a non-empty 'apply' list"),
    ("{op: test, value: 1}", "t.yaml:10:16: error: 'test' needs a 'path'"),
    ("{op: test, path: /UDP/src_port}", "t.yaml:10:16: error: 'test' needs a 'value'"),
    ("{op: test, path: //x, value: 1}", "t.yaml:10:16: error: '//x' is not a metadata path"),
    (
      "{op: test, path: /UDP/src_port, value: 1.5}",
      "t.yaml:10:55: error: 1.5: metadata fields hold integers"
    ),
    (
      "{op: test, path: /IP/src_adr, value: '1.2.3.4'}",
      "t.yaml:10:16: error: unknown metadata field 'IP.src_adr'; did you mean 'IP.src_addr'?"
    ),
    (
      "{op: contains, path: /UDP/src_port, value: '90'}",
      "t.yaml:10:16: error: 'contains' needs a string or bytes on the left, but 'UDP.src_port' is int"
    ),
    (
      "{op: test, path: /HTTP/method, value: GET}",
      "t.yaml:10:16: error: 'HTTP.method' is not available on a UDP rulelist: it exists on WebSocket (in the generated rule source: rule rule1 when HTTP.method == \"GET\" {)"
    ),
  ])
  func invalidPredicatesAreErrorsAtTheirPosition(match: String, expected: String) {
    let t = Fixture.translate(Fixture.rule(match: match))
    #expect(t.diagnostics.hasErrors)
    #expect(
      Fixture.messages(t).contains { $0.hasPrefix(expected) }, "\(Fixture.messages(t))")
    #expect(t.listeners.first?.source == nil || t.diagnostics.hasErrors)
  }
}
