// Records one reading for every configured webhook endpoint: one new delivery record each.
// The post itself happens in `deliver` (an action on the deliveries stream, run by each new
// record), so a record exists before any HTTP call: a run that dies mid-post loses nothing.
// Source: the device observation streams the bridge writes (see cloud/README.md, "Source").
function(event) {
  var now = Date.now();
  var records = [];
  var i, record;
  for (i = 0; i < SETTINGS.endpoints.length; i++) {
    record = newRecord(event, SETTINGS.endpoints[i], now);
    if (findRecord(record.hash)) {
      continue; // this reading was already handed to this endpoint: its record tells the rest
    }
    record.reason = "queued for the first attempt";
    record.nextAttemptAt = now + policyValue(SETTINGS.policy, "firstAttemptLease") * 1000;
    records.push(recordEvent(record));
  }
  return routeRecords(records, []);
}
