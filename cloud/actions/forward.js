// Forwards one reading to every configured webhook endpoint: one delivery record per endpoint.
// Source: the device observation streams the bridge writes (see cloud/README.md, "Source").
function(event) {
  var now = Date.now();
  var records = [];
  var gone = [];
  var i, endpoint, record, done;
  for (i = 0; i < SETTINGS.endpoints.length; i++) {
    endpoint = SETTINGS.endpoints[i];
    record = newRecord(event, endpoint, now);
    if (findRecord(record.hash)) {
      continue; // this reading was already handed to this endpoint: its record tells the rest
    }
    if (endpointGone(endpoint.name)) {
      records.push(recordEvent(failPermanently(record, "endpoint gone (410); re-enable it to deliver again", now)));
      continue;
    }
    done = postAttempt(record, endpoint, now);
    records.push(recordEvent(done.record));
    if (done.gone) {
      gone.push(goneEvent(endpoint.name, done.record, now));
    }
  }
  return routeRecords(records, gone);
}
