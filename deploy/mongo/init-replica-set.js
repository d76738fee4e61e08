// The healthcheck of docker-compose's MongoDB (mongosh --quiet --file this): on the first run it
// initiates the one-member replica set rs0 (a replica set, even of one, is what production runs,
// so change streams, retryable writes and transactions behave the same); it reports healthy only
// once this member is PRIMARY, so the services that wait on it can write at once. The member's
// host is the compose service name, which every container of the stack resolves.
try {
  const status = rs.status();
  if (status.myState !== 1) {
    print(`replica set rs0: this member is ${status.members.find((m) => m.self).stateStr}, not PRIMARY yet`);
    quit(1);
  }
} catch (e) {
  if (e.codeName !== "NotYetInitialized") {
    print(`replica set rs0: ${e.message}`);
    quit(1);
  }
  rs.initiate({ _id: "rs0", members: [{ _id: 0, host: "mongo:27017" }] });
  print("replica set rs0: initiated");
  quit(1);
}
