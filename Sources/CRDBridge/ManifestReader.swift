import Config

/// Reads manifest files (multi-document YAML, or `kind: List`) into `Manifests`: VirtualService
/// and Route objects fully checked (unknown fields are warnings), and the Kubernetes Service,
/// EndpointSlice and Pod fields the bridge needs. Other kinds are skipped.
public enum ManifestReader {
  public static let apiVersion = "l7mp.io/v1"

  public static func read(
    _ bytes: [UInt8], file: String, into manifests: inout Manifests,
    diagnostics: inout BridgeDiagnostics
  ) {
    let documents: [YAMLNode]
    do {
      documents = try YAMLReader.documents(bytes, name: file)
    } catch {
      diagnostics.append(BridgeDiagnostic(error))
      return
    }
    var reader = NodeReader(file: file)
    for document in documents where !document.isNull {
      reader.object(document, into: &manifests)
    }
    for d in reader.diagnostics.all { diagnostics.append(d) }
  }
}

extension NodeReader {
  mutating func object(_ node: YAMLNode, into m: inout Manifests) {
    guard let f = fields(node, "a manifest", known: nil) else { return }
    guard let kind = string(f["kind"]?.value, "kind") else {
      error("a manifest needs 'kind'", node)
      return
    }
    let apiVersion = string(f["apiVersion"]?.value, "apiVersion")
    switch kind {
    case "List":
      for item in list(f["items"]?.value) { object(item, into: &m) }
    case "VirtualService", "Route":
      guard apiVersion == ManifestReader.apiVersion else {
        error(
          "\(kind) needs apiVersion: \(ManifestReader.apiVersion), found \(apiVersion.map { "'\($0)'" } ?? "none")",
          f["apiVersion"]?.value ?? node)
        return
      }
      _ = fields(node, kind, known: ["apiVersion", "kind", "metadata", "spec", "status"])
      if kind == "VirtualService" {
        if let vs = virtualService(node, f) { m.virtualServices.append(vs) }
      } else if let r = route(node, f) {
        m.routes.append(r)
      }
    case "Service":
      if let s = service(node, f) { m.services.append(s) }
    case "EndpointSlice":
      if let s = endpointSlice(f) { m.endpointSlices.append(s) }
    case "Pod":
      if let p = pod(f) { m.pods.append(p) }
    default:
      break
    }
  }

  // MARK: VirtualService

  mutating func virtualService(_ node: YAMLNode, _ f: [String: YAMLPair]) -> VirtualService? {
    guard let meta = meta(f["metadata"]?.value, "VirtualService") else { return nil }
    var vs = VirtualService(meta: meta, selector: nil, listeners: [], location: at(node))
    // The seed writes the selector under metadata; spec.selector is the Kubernetes convention.
    let metaSelector = f["metadata"]?.value["selector"]
    guard let specNode = f["spec"]?.value, !specNode.isNull else {
      if let s = metaSelector { readSelector(s, into: &vs) }
      return vs
    }
    guard
      let spec = fields(
        specNode, "VirtualService spec", known: ["selector", "listener", "virtualHost"])
    else { return vs }
    if let s = spec["selector"]?.value, let other = metaSelector {
      error("the selector is given twice (here and at \(at(other))); keep one", s)
    }
    if let s = spec["selector"]?.value ?? metaSelector { readSelector(s, into: &vs) }
    if let l = spec["listener"], let h = spec["virtualHost"] {
      error("give 'listener' or 'virtualHost', not both (the other is at \(at(l.key)))", h.key)
    }
    let items = list(spec["listener"]?.value ?? spec["virtualHost"]?.value)
    vs.declaresListeners = !items.isEmpty
    for (i, item) in items.enumerated() {
      let defaultName = items.count == 1 ? meta.name : "\(meta.name)-\(i + 1)"
      if let l = listener(item, defaultName: defaultName) { vs.listeners.append(l) }
    }
    return vs
  }

  mutating func readSelector(_ node: YAMLNode, into vs: inout VirtualService) {
    vs.selectorLocation = at(node)
    guard
      let f = fields(
        node, "selector", known: ["matchLabels", "matchExpressions", "serviceName", "namespace"])
    else { return }
    if let service = string(f["serviceName"]?.value, "selector.serviceName") {
      if f["matchLabels"] != nil || f["matchExpressions"] != nil {
        error("a selector picks pods by serviceName or by labels, not both", node)
      }
      let ns = string(f["namespace"]?.value, "selector.namespace") ?? vs.meta.namespace
      vs.selector = .service(name: service, namespace: ns)
      return
    }
    var expressions: [LabelExpression] = []
    for e in list(f["matchExpressions"]?.value) {
      guard let ef = fields(e, "a matchExpressions item", known: ["key", "operator", "values"]),
        let key = string(ef["key"]?.value, "key"), let opNode = ef["operator"]?.value,
        let opText = string(opNode, "operator")
      else { continue }
      guard let op = LabelExpression.Operator(rawValue: opText) else {
        let known = LabelExpression.Operator.allCases.map(\.rawValue).joined(separator: ", ")
        error(
          "unknown selector operator '\(opText)'; expected one of: \(known)", opNode)
        continue
      }
      let values = list(ef["values"]?.value).compactMap { text($0, "values") }
      if (op == .in || op == .notIn) && values.isEmpty {
        error("operator \(opText) needs a non-empty 'values' list", e)
      }
      expressions.append(LabelExpression(key: key, op: op, values: values))
    }
    let labels = stringMap(f["matchLabels"]?.value, "matchLabels")
    if labels.isEmpty && expressions.isEmpty {
      error("the selector picks every pod: give matchLabels, matchExpressions or serviceName", node)
    }
    vs.selector = .labels(match: labels, expressions: expressions)
  }

  mutating func listener(_ node: YAMLNode, defaultName: String) -> VirtualListener? {
    guard let f = fields(node, "a listener", known: ["name", "spec", "rules"]) else { return nil }
    let name = string(f["name"]?.value, "listener name") ?? defaultName
    guard let specNode = f["spec"]?.value else {
      error("listener '\(name)' needs 'spec' ({protocol, port})", node)
      return nil
    }
    guard
      let spec = fields(
        specNode, "listener spec", known: ["protocol", "port", "address", "filename"])
    else { return nil }
    guard let protoNode = spec["protocol"]?.value else {
      error("listener '\(name)' needs spec.protocol", specNode)
      return nil
    }
    guard let protoText = text(protoNode, "protocol") else { return nil }
    guard let proto = TransportProtocol(rawValue: protoText) else {
      let known = TransportProtocol.allCases.map(\.rawValue).joined(separator: ", ")
      error("unknown protocol '\(protoText)'; expected one of: \(known)", protoNode)
      return nil
    }
    let port = port(spec["port"]?.value, "port")
    let filename = string(spec["filename"]?.value, "filename")
    if proto == .unixDomainSocket {
      if filename == nil { error("a UnixDomainSocket listener needs spec.filename", specNode) }
    } else if spec["port"] == nil {
      error("a \(protoText) listener needs spec.port", specNode)
    }
    var rules: [VirtualRule] = []
    for (i, r) in list(f["rules"]?.value).enumerated() {
      if let rule = rule(r, index: i) { rules.append(rule) }
    }
    return VirtualListener(
      name: name, protocol: proto, port: port, address: string(spec["address"]?.value, "address"),
      filename: filename, rules: rules, location: at(node),
      portLocation: at(spec["port"]?.value ?? specNode))
  }

  mutating func rule(_ node: YAMLNode, index: Int) -> VirtualRule? {
    guard let f = fields(node, "a rule", known: ["name", "match", "action", "options"]) else {
      return nil
    }
    var rule = VirtualRule(
      name: string(f["name"]?.value, "rule name"), match: nil, rewrites: [], route: nil,
      options: [], location: at(node))
    if let m = f["match"]?.value, !m.isNull { rule.match = predicate(m) }
    guard let actionNode = f["action"]?.value else {
      error("a rule needs 'action' with a 'route'", node)
      return rule
    }
    if let action = fields(actionNode, "action", known: ["rewrite", "route"]) {
      for r in list(action["rewrite"]?.value) {
        guard let rf = fields(r, "a rewrite", known: ["path", "value"]),
          let path = string(rf["path"]?.value, "rewrite path")
        else { continue }
        guard let value = rf["value"]?.value else {
          error("a rewrite needs 'value'", r)
          continue
        }
        rule.rewrites.append(Rewrite(path: path, value: value, location: at(r)))
      }
      if let routeNode = action["route"]?.value {
        if let name = routeNode.scalar?.string {
          rule.route = .named(name, at(routeNode))
        } else if let spec = routeSpec(routeNode) {
          rule.route = .inline(spec)
        }
      } else {
        error("action needs 'route'", actionNode)
      }
    }
    if let o = f["options"]?.value, let opts = fields(o, "options", known: nil) {
      for p in o.mapping ?? [] where opts[p.key.scalar?.text ?? ""] != nil {
        rule.options.append(
          RouteOption(name: p.key.scalar?.text ?? "", value: p.value, location: at(p.key)))
      }
    }
    return rule
  }

  mutating func predicate(_ node: YAMLNode) -> Predicate? {
    guard
      let f = fields(
        node, "a match predicate", known: ["op", "path", "value", "ignore_case", "apply"])
    else { return nil }
    guard let opNode = f["op"]?.value, let op = string(opNode, "op") else {
      error("a match predicate needs 'op'", node)
      return nil
    }
    var apply: [Predicate]?
    if let a = f["apply"]?.value {
      guard let items = a.sequence else {
        error("'apply' must be a list of predicates, found \(a.kindDescription)", a)
        return nil
      }
      apply = []
      for item in items {
        guard let p = predicate(item) else { return nil }
        apply?.append(p)
      }
    }
    return Predicate(
      op: op, path: string(f["path"]?.value, "path"), value: f["value"]?.value,
      ignoreCase: bool(f["ignore_case"]?.value, "ignore_case") ?? false, apply: apply,
      location: at(node), opLocation: at(opNode), valueLocation: f["value"].map { at($0.value) })
  }

  // MARK: routes

  mutating func routeSpec(_ node: YAMLNode) -> RouteSpec? {
    guard
      let f = fields(
        node, "a route", known: ["destination", "cluster", "ingress", "egress", "retry"])
    else { return nil }
    if let d = f["destination"], let c = f["cluster"] {
      error("give 'destination' or 'cluster', not both (the other is at \(at(d.key)))", c.key)
    }
    guard let destNode = f["destination"]?.value ?? f["cluster"]?.value else {
      error("a route needs 'destination' (or 'cluster')", node)
      return nil
    }
    guard let destination = target(destNode) else { return nil }
    var retry: RetryPolicy?
    if let r = f["retry"]?.value,
      let rf = fields(r, "retry", known: ["retry_on", "num_retries", "timeout"])
    {
      retry = RetryPolicy(
        retryOn: string(rf["retry_on"]?.value, "retry_on"),
        retries: int(rf["num_retries"]?.value, "num_retries"),
        timeoutMilliseconds: int(rf["timeout"]?.value, "timeout (milliseconds)"), location: at(r))
    }
    return RouteSpec(
      destination: destination, ingress: list(f["ingress"]?.value).compactMap { target($0) },
      egress: list(f["egress"]?.value).compactMap { target($0) }, retry: retry, location: at(node))
  }

  mutating func target(_ node: YAMLNode) -> TargetReference? {
    if let name = node.scalar?.string { return .named(name, at(node)) }
    guard let f = fields(node, "a route target", known: ["name", "spec", "endpoints"]) else {
      return nil
    }
    guard let specNode = f["spec"]?.value,
      let spec = fields(
        specNode, "a cluster spec", known: ["protocol", "port", "address", "filename", "path"])
    else {
      error("an inline target needs 'spec' ({protocol, …})", node)
      return nil
    }
    guard let protoNode = spec["protocol"]?.value, let protoText = text(protoNode, "protocol")
    else {
      error("a cluster spec needs 'protocol'", specNode)
      return nil
    }
    guard let proto = ClusterProtocol(rawValue: protoText) else {
      let known = ClusterProtocol.allCases.map(\.rawValue).joined(separator: ", ")
      error("unknown protocol '\(protoText)'; expected one of: \(known)", protoNode)
      return nil
    }
    let port = port(spec["port"]?.value, "port")
    let filename = string(spec["filename"]?.value, "filename")
    let address = string(spec["address"]?.value, "address")
    if proto == .unixDomainSocket && filename == nil {
      error("a UnixDomainSocket target needs spec.filename", specNode)
    }
    var endpoints: [EndpointConfig] = []
    for e in list(f["endpoints"]?.value) {
      guard let ef = fields(e, "an endpoint", known: ["name", "spec"]),
        let es = ef["spec"]?.value,
        let esf = fields(es, "an endpoint spec", known: ["address", "port", "filename"])
      else { continue }
      endpoints.append(
        EndpointConfig(
          name: string(ef["name"]?.value, "name"),
          spec: EndpointSpec(
            address: string(esf["address"]?.value, "address"),
            port: self.port(esf["port"]?.value, "port"),
            filename: string(esf["filename"]?.value, "filename"))))
    }
    return .inline(
      InlineCluster(
        name: string(f["name"]?.value, "name"),
        spec: ClusterSpec(
          protocol: proto, port: port, filename: filename,
          path: string(spec["path"]?.value, "path")),
        address: address, endpoints: endpoints, location: at(node)))
  }

  mutating func route(_ node: YAMLNode, _ f: [String: YAMLPair]) -> Route? {
    guard let meta = meta(f["metadata"]?.value, "Route") else { return nil }
    guard let specNode = f["spec"]?.value else {
      error("Route '\(meta.name)' needs 'spec' ({destination, ingress?, egress?, retry?})", node)
      return nil
    }
    guard let spec = routeSpec(specNode) else { return nil }
    return Route(meta: meta, spec: spec, location: at(node))
  }

  // MARK: Kubernetes objects

  mutating func service(_ node: YAMLNode, _ f: [String: YAMLPair]) -> KubernetesService? {
    guard let meta = meta(f["metadata"]?.value, "Service") else { return nil }
    let spec = f["spec"]?.value
    var ports: [KubernetesService.Port] = []
    for p in list(spec?["ports"]) {
      guard let number = port(p["port"], "Service port") else { continue }
      var target = KubernetesService.TargetPort.number(number)
      if let t = p["targetPort"] {
        if case .int(let i)? = t.scalar?.value {
          target = .number(i)
        } else if let name = string(t, "targetPort") {
          target = .named(name)
        }
      }
      ports.append(
        KubernetesService.Port(
          name: p["name"]?.scalar?.text, port: number, targetPort: target,
          protocol: p["protocol"]?.scalar?.text ?? "TCP"))
    }
    return KubernetesService(
      meta: meta, selector: stringMap(spec?["selector"], "Service selector"), ports: ports,
      clusterIP: spec?["clusterIP"]?.scalar?.string, location: at(node))
  }

  mutating func endpointSlice(_ f: [String: YAMLPair]) -> EndpointSlice? {
    guard let meta = meta(f["metadata"]?.value, "EndpointSlice") else { return nil }
    var addresses: [String] = []
    for e in list(f["endpoints"]?.value) {
      if case .bool(false)? = e["conditions"]?["ready"]?.scalar?.value { continue }
      addresses += list(e["addresses"]).compactMap { string($0, "address") }
    }
    let ports = list(f["ports"]?.value).compactMap { p -> EndpointSlice.Port? in
      guard let n = port(p["port"], "EndpointSlice port") else { return nil }
      return EndpointSlice.Port(
        name: p["name"]?.scalar?.text, port: n, protocol: p["protocol"]?.scalar?.text ?? "TCP")
    }
    return EndpointSlice(meta: meta, addresses: addresses, ports: ports)
  }

  mutating func pod(_ f: [String: YAMLPair]) -> Pod? {
    guard let meta = meta(f["metadata"]?.value, "Pod") else { return nil }
    var named: [String: Int] = [:]
    for c in list(f["spec"]?.value["containers"]) {
      for p in list(c["ports"]) {
        if let name = p["name"]?.scalar?.string,
          case .int(let n)? = p["containerPort"]?.scalar?.value
        {
          named[name] = n
        }
      }
    }
    return Pod(meta: meta, ip: f["status"]?.value["podIP"]?.scalar?.string, namedPorts: named)
  }
}
