// Operator commands written to the commands stream by `edgehook deliveries replay` and
// `edgehook deliveries enable`: replay a delivery (or every failed one), re-enable an endpoint.
// elems: {command: "replay", target: <record hash | webhook id | record event id | "failed">}
//        {command: "enable", endpoint: <name>}
function(event) {
  var now = Date.now();
  var cmd = event.elems || {};
  var out = {};
  var records = [];
  var found, i;
  if (cmd.command === "enable") {
    out[SETTINGS.endpointsStream] = [{ hash: String(cmd.endpoint), elems: { endpoint: String(cmd.endpoint), state: "active", since: now } }];
    return out;
  }
  if (cmd.command !== "replay" || !/^[A-Za-z0-9_:.\-@\/]{1,200}$/.test(String(cmd.target))) {
    console.log("unknown command: " + JSON.stringify(cmd));
    return {};
  }
  found = Octave.Event.find(streamIdOf(SETTINGS.deliveriesStream), {
    filter: cmd.target === "failed" ? "elems.state == 'failed'" :
      "hash == '" + cmd.target + "' || elems.webhookId == '" + cmd.target + "' || id == '" + cmd.target + "'",
    limit: cmd.limit || 1000
  });
  for (i = 0; i < found.length; i++) {
    records.push(recordEvent(replayRecord(found[i].elems, now)));
  }
  return routeRecords(records, []);
}
