// The first attempt of a new delivery record (this action's source is the deliveries stream;
// only new records run it, updates do not). If this run dies, the record stays `retrying`
// and the deliveries task takes it when its first-attempt lease has passed.
function(event) {
  var now = Date.now();
  var record = event.elems || {};
  var done;
  if (record.state !== "retrying" || record.attempts !== 0) {
    return {};
  }
  done = advanceRecord(record, now);
  return routeRecords([recordEvent(done.record)], done.gone ? [goneEvent(done.record.endpoint, done.record, now)] : []);
}
