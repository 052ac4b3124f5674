// Periodic: takes the pending and retrying deliveries whose time has come and works on each once
// (a 202's status check or a retry) — the "different event" of Octave's 202 guidance.
function(event) {
  var now = Date.now();
  var batch = SETTINGS.batch || 50;
  var due = Octave.Event.find(streamIdOf(SETTINGS.deliveriesStream), {
    filter: "(elems.state == 'pending' || elems.state == 'retrying') && elems.nextAttemptAt <= " + now,
    sort: "elems.nextAttemptAt",
    order: "asc",
    limit: batch
  });
  var records = [];
  var gone = [];
  var i, done;
  for (i = 0; i < due.length; i++) {
    done = advanceRecord(due[i].elems, now);
    records.push(recordEvent(done.record));
    if (done.gone) {
      gone.push(goneEvent(done.record.endpoint, done.record, now));
    }
  }
  return routeRecords(records, gone);
}
