// A raw TFTP client for what real clients cannot do: run inside the client namespace with
// `ip netns exec`; prints one JSON line. Every wait is bounded.
//   foreign-tid <server> <file>   read a file; mid-transfer, another socket sends an ACK and
//                                  an ERROR to the transfer's port
//   short <server> <file>         1-byte datagrams to port 69 and to the transfer's port mid-transfer
//   hold <server> <file> <n>      n requests that are never acknowledged, then one more
import { createHash } from 'node:crypto';
import dgram from 'node:dgram';

const [mode, server, file, count] = process.argv.slice(2);
const deadline = Date.now() + 20_000;
const rrq = (name) => Buffer.concat([Buffer.from([0, 1]), Buffer.from(`${name}\0octet\0`)]);
const ack = (block) => Buffer.from([0, 4, block >> 8, block & 255]);

function open() {
  const socket = dgram.createSocket('udp4');
  const queue = [];
  const waiters = [];
  socket.on('message', (message, rinfo) => {
    const waiter = waiters.shift();
    if (waiter) waiter({ message, rinfo });
    else queue.push({ message, rinfo });
  });
  const next = (ms = 3000) =>
    queue.length > 0
      ? Promise.resolve(queue.shift())
      : new Promise((resolve) => {
          const waiter = (value) => {
            clearTimeout(timer);
            resolve(value);
          };
          const timer = setTimeout(() => {
            waiters.splice(waiters.indexOf(waiter), 1);
            resolve(undefined);
          }, ms);
          waiters.push(waiter);
        });
  return new Promise((resolve) => socket.bind(0, () => resolve({ socket, next })));
}

const describe = (packet) => packet && { opcode: packet.message.readUInt16BE(0), code: packet.message.readUInt16BE(2), text: packet.message.subarray(4).toString('latin1').replace(/\0$/, ''), port: packet.rinfo.port };

/** Reads a file in plain RFC 1350 (512-byte blocks); `during(block, port)` runs after each block. */
async function read(name, during) {
  const { socket, next } = await open();
  socket.send(rrq(name), 69, server);
  const hash = createHash('sha256');
  let expected = 1;
  let size = 0;
  let port;
  while (Date.now() < deadline) {
    const packet = await next();
    if (!packet) return { error: 'timeout', size };
    port ??= packet.rinfo.port;
    const opcode = packet.message.readUInt16BE(0);
    if (opcode !== 3) return { error: describe(packet), size };
    const block = packet.message.readUInt16BE(2);
    if (block === (expected & 0xffff)) {
      const data = packet.message.subarray(4);
      hash.update(data);
      size += data.length;
      expected++;
      if (during) await during(block, port, socket);
      // The last ACK must leave before the socket closes, or the server waits for it in vain.
      await new Promise((resolve) => socket.send(ack(block), port, server, resolve));
      if (data.length < 512) {
        socket.close();
        return { sha256: hash.digest('hex'), size };
      }
    }
  }
  return { error: 'deadline', size };
}

let result;
if (mode === 'foreign-tid') {
  const foreign = await open();
  const replies = [];
  result = await read(file, async (block, port) => {
    if (block !== 5) return;
    foreign.socket.send(ack(5), port, server);
    replies.push(describe(await foreign.next(1000)));
    foreign.socket.send(Buffer.from([0, 5, 0, 0, ...Buffer.from('stop\0')]), port, server);
    replies.push(describe(await foreign.next(300)) ?? null);
  });
  result.foreignReplies = replies;
  foreign.socket.close();
} else if (mode === 'short') {
  const other = await open();
  other.socket.send(Buffer.from([1]), 69, server);
  result = await read(file, async (block, port, own) => {
    if (block === 3) own.send(Buffer.from([0]), port, server);
  });
  other.socket.close();
} else if (mode === 'hold') {
  const held = [];
  for (let i = 0; i < Number(count); i++) {
    const client = await open();
    client.socket.send(rrq(file), 69, server);
    held.push(client);
  }
  const firsts = await Promise.all(held.map((client) => client.next()));
  const extra = await open();
  extra.socket.send(rrq(file), 69, server);
  result = { held: firsts.map(describe).map((p) => p?.opcode), extra: describe(await extra.next()) };
  for (const client of [...held, extra]) client.socket.close();
}
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(0);
