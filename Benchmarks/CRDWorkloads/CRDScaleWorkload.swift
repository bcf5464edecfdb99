/// The CRD bridge's scale workload (issue 5: "1,000 VirtualServices with 10 rules each translate and
/// compile in a few seconds"), written as one multi-document manifest. Shared by the benchmark
/// (CRDBridgeBenchmarks) and the test that checks the same workload translates without errors.
///
/// Shape: `gatewayGroups` gateway pods, each selected by every `gatewayGroups`-th VirtualService;
/// `backends` Kubernetes Services, each with one pod; `virtualServices` VirtualServices, each with
/// one UDP listener on its own port and `rulesPerService` rules. Rule `r` of a VirtualService uses
/// match form `r % 10` (starts, test on a port, in a list, and/or/not, nesting with a path prefix,
/// more, ends and contains on labels since UDP has no HTTP headers to read; the last form has no
/// match), routes to a backend Service, and every third rule also goes in via the next
/// VirtualService's listener.
public struct CRDScaleWorkload: Sendable {
  public var virtualServices: Int
  public var rulesPerService: Int
  public var backends: Int
  public var gatewayGroups: Int

  public init(
    virtualServices: Int = 1_000, rulesPerService: Int = 10, backends: Int = 100,
    gatewayGroups: Int = 10
  ) {
    self.virtualServices = virtualServices
    self.rulesPerService = rulesPerService
    self.backends = backends
    self.gatewayGroups = gatewayGroups
  }

  /// The rules the bridge should write.
  public var ruleCount: Int { virtualServices * rulesPerService }

  /// The YAML stream: pods and Services first, then the VirtualServices.
  public func manifests() -> String {
    var out = ""
    out.reserveCapacity(virtualServices * rulesPerService * 300)
    for g in 0..<gatewayGroups {
      out += """
        apiVersion: v1
        kind: Pod
        metadata: {name: gw-\(g), namespace: default, labels: {app: gw-\(g)}}
        status: {podIP: 10.1.\(g / 250).\(g % 250 + 1)}
        ---

        """
    }
    for b in 0..<backends {
      out += """
        apiVersion: v1
        kind: Service
        metadata: {name: backend-\(b), namespace: default}
        spec:
          selector: {app: backend-\(b)}
          ports: [{name: media, protocol: UDP, port: 5000, targetPort: 5000}]
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: backend-\(b)-0, namespace: default, labels: {app: backend-\(b)}}
        status: {podIP: 10.2.\(b / 250).\(b % 250 + 1)}
        ---

        """
    }
    for v in 0..<virtualServices {
      out += virtualService(v)
    }
    return out
  }

  func virtualService(_ v: Int) -> String {
    var out = """
      apiVersion: l7mp.io/v1
      kind: VirtualService
      metadata: {name: vs-\(v), namespace: default}
      spec:
        selector: {matchLabels: {app: gw-\(v % gatewayGroups)}}
        listener:
          name: listener-\(v)
          spec: {protocol: UDP, port: \(10_000 + v)}
          rules:

      """
    for r in 0..<rulesPerService {
      out += "      - name: r\(r)\n"
      if let m = match(v, r) { out += "        match: \(m)\n" }
      out += "        action:\n"
      if r % 4 == 1 {
        out += "          rewrite: [{path: /HTTP/headers, value: {x-rule: \(r), x-vs: vs-\(v)}}]\n"
      }
      out += "          route:\n"
      out += "            destination: backend-\((v + r) % backends)\n"
      if r % 3 == 2, virtualServices > 1 {
        out += "            ingress: [vs-\((v + 1) % virtualServices)]\n"
      }
      if r % 5 == 0 {
        out += "        options: {removeOrphanSessions: true, timeout: 2000}\n"
      }
    }
    return out + "---\n"
  }

  /// Match form `r % 10` for rule `r` of VirtualService `v` (flow YAML), nil for a catch-all.
  func match(_ v: Int, _ r: Int) -> String? {
    let net = "10.\(v % 200).\(r)."
    let port = 1_024 + (v * 10 + r) % 60_000
    switch r % 10 {
    case 0: return "{op: starts, path: /IP/src_addr, value: '\(net)'}"
    case 1: return "{op: test, path: /UDP/src_port, value: \(port)}"
    case 2: return "{op: in, path: /UDP/dst_port, value: [\(port), \(port + 1), \(port + 2)]}"
    case 3:
      return
        "{op: and, apply: [{op: starts, path: /IP/src_addr, value: '\(net)'}, {op: test, path: /UDP/src_port, value: \(port)}]}"
    case 4:
      return
        "{op: or, apply: [{op: test, path: /UDP/dst_port, value: \(port)}, {op: in, path: /IP/src_addr, value: ['\(net)1', '\(net)2']}]}"
    case 5:
      return
        "{op: not, apply: [{op: starts, path: /IP/src_addr, value: '\(net)'}, {op: less, path: /UDP/src_port, value: 1024}]}"
    case 6:
      return
        "{op: and, path: /UDP, apply: [{op: more, path: src_port, value: \(port)}, {op: or, apply: [{op: test, path: dst_port, value: \(port)}, {op: in, path: dst_port, value: [\(port + 5), \(port + 6)]}]}]}"
    case 7: return "{op: more, path: /UDP/src_port, value: \(port)}"
    case 8:
      return
        "{op: or, apply: [{op: ends, path: /labels/tenant, value: '.vs-\(v).example'}, {op: contains, path: /labels/agent, value: 'probe-\(r)', ignore_case: true}]}"
    default: return nil
    }
  }
}
