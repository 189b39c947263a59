import assert from "node:assert/strict";
import { PickleGlobal, PickleObject, TensorRequest, unpickle } from "../../../io/checkpoint/pickle.ts";
import { CheffError } from "../../../io/errors.ts";
import { fromHex, PickleWriter } from "./helpers.ts";

/**
 * pickle.dumps(obj, protocol=p) for p = 0…5 (CPython 3), of
 * {"int": 7, "neg": -300, "big": 2**70, "negbig": -2**40, "float": 1.5, "none": None, "t": True,
 *  "f": False, "str": "héllo\n'x'", "bytes": b"\x00\x01\xff", "list": [1, [2, 3]], "tuple": (1, "a"),
 *  "empty": (), "set": {5}, "od": OrderedDict([("b", 1), ("a", 2)]), "intkeys": {0: "zero", 10: "ten"}}
 */
const PROTOCOLS = [
  "286470300a56696e740a70310a49370a73566e65670a70320a492d3330300a73566269670a70330a4c313138303539313632303731373431313330333432344c0a73566e65676269670a70340a4c2d313039393531313632373737364c0a7356666c6f61740a70350a46312e350a73566e6f6e650a70360a4e7356740a70370a4930310a7356660a70380a4930300a73567374720a70390a5668e96c6c6f5c75303030612778270a7031300a735662797465730a7031310a635f636f646563730a656e636f64650a7031320a28565c753030303001ff0a7031330a566c6174696e310a7031340a747031350a527031360a73566c6973740a7031370a286c7031380a49310a61286c7031390a49320a6149330a616173567475706c650a7032300a2849310a56610a7032310a747032320a7356656d7074790a7032330a287473567365740a7032340a635f5f6275696c74696e5f5f0a7365740a7032350a28286c7032360a49350a61747032370a527032380a73566f640a7032390a63636f6c6c656374696f6e730a4f726465726564446963740a7033300a2874527033310a56620a7033320a49310a736732310a49320a737356696e746b6579730a7033330a28647033340a49300a567a65726f0a7033350a734931300a5674656e0a7033360a73732e",
  "7d7100285803000000696e7471014b0758030000006e656771024ad4feffff580300000062696771034c313138303539313632303731373431313330333432344c0a58060000006e656762696771044c2d313039393531313632373737364c0a5805000000666c6f61747105473ff800000000000058040000006e6f6e6571064e58010000007471074930310a58010000006671084930300a58030000007374727109580a00000068c3a96c6c6f0a277827710a58050000006279746573710b635f636f646563730a656e636f64650a710c2858040000000001c3bf710d58060000006c6174696e31710e74710f52711058040000006c69737471115d7112284b015d7113284b024b03656558050000007475706c657114284b0158010000006171157471165805000000656d70747971172958030000007365747118635f5f6275696c74696e5f5f0a7365740a7119285d711a4b056174711b52711c58020000006f64711d63636f6c6c656374696f6e730a4f726465726564446963740a711e2952711f2858010000006271204b0168154b02755807000000696e746b65797371217d7122284b0058040000007a65726f71234b0a580300000074656e712475752e",
  "80027d7100285803000000696e7471014b0758030000006e656771024ad4feffff580300000062696771038a0900000000000000004058060000006e656762696771048a060000000000ff5805000000666c6f61747105473ff800000000000058040000006e6f6e6571064e58010000007471078858010000006671088958030000007374727109580a00000068c3a96c6c6f0a277827710a58050000006279746573710b635f636f646563730a656e636f64650a710c58040000000001c3bf710d58060000006c6174696e31710e86710f52711058040000006c69737471115d7112284b015d7113284b024b03656558050000007475706c6571144b0158010000006171158671165805000000656d70747971172958030000007365747118635f5f6275696c74696e5f5f0a7365740a71195d711a4b056185711b52711c58020000006f64711d63636f6c6c656374696f6e730a4f726465726564446963740a711e2952711f2858010000006271204b0168154b02755807000000696e746b65797371217d7122284b0058040000007a65726f71234b0a580300000074656e712475752e",
  "80037d7100285803000000696e7471014b0758030000006e656771024ad4feffff580300000062696771038a0900000000000000004058060000006e656762696771048a060000000000ff5805000000666c6f61747105473ff800000000000058040000006e6f6e6571064e58010000007471078858010000006671088958030000007374727109580a00000068c3a96c6c6f0a277827710a58050000006279746573710b43030001ff710c58040000006c697374710d5d710e284b015d710f284b024b03656558050000007475706c6571104b0158010000006171118671125805000000656d70747971132958030000007365747114636275696c74696e730a7365740a71155d71164b056185711752711858020000006f64711963636f6c6c656374696f6e730a4f726465726564446963740a711a2952711b28580100000062711c4b0168114b02755807000000696e746b657973711d7d711e284b0058040000007a65726f711f4b0a580300000074656e712075752e",
  "80049509010000000000007d94288c03696e74944b078c036e6567944ad4feffff8c03626967948a090000000000000000408c066e6567626967948a060000000000ff8c05666c6f617494473ff80000000000008c046e6f6e65944e8c017494888c016694898c03737472948c0a68c3a96c6c6f0a277827948c0562797465739443030001ff948c046c697374945d94284b015d94284b024b0365658c057475706c65944b018c01619486948c05656d70747994298c03736574948f94284b05908c026f64948c0b636f6c6c656374696f6e73948c0b4f72646572656444696374949394295294288c0162944b0168114b02758c07696e746b657973947d94284b008c047a65726f944b0a8c0374656e9475752e",
  "80059509010000000000007d94288c03696e74944b078c036e6567944ad4feffff8c03626967948a090000000000000000408c066e6567626967948a060000000000ff8c05666c6f617494473ff80000000000008c046e6f6e65944e8c017494888c016694898c03737472948c0a68c3a96c6c6f0a277827948c0562797465739443030001ff948c046c697374945d94284b015d94284b024b0365658c057475706c65944b018c01619486948c05656d70747994298c03736574948f94284b05908c026f64948c0b636f6c6c656374696f6e73948c0b4f72646572656444696374949394295294288c0162944b0168114b02758c07696e746b657973947d94284b008c047a65726f944b0a8c0374656e9475752e",
];

const EXPECTED = {
  int: 7,
  neg: -300,
  big: 2n ** 70n,
  negbig: -(2 ** 40),
  float: 1.5,
  none: null,
  t: true,
  f: false,
  str: "héllo\n'x'",
  bytes: Uint8Array.from([0, 1, 255]),
  list: [1, [2, 3]],
  tuple: [1, "a"],
  empty: [],
  set: [5],
  od: { b: 1, a: 2 },
  intkeys: { "0": "zero", "10": "ten" },
};

const source = "test.pkl";

function refuses(bytes: Uint8Array, pattern: RegExp) {
  assert.throws(
    () => unpickle(bytes, { source }),
    (error: unknown) =>
      error instanceof CheffError && pattern.test(error.message) && !error.message.includes("\n"),
  );
}

for (const [protocol, hex] of PROTOCOLS.entries()) {
  Deno.test(`protocol ${protocol} pickles of plain data read as the same values`, () => {
    const { value, end } = unpickle(fromHex(hex), { source });
    assert.deepEqual(value, EXPECTED);
    assert.equal(end, hex.length / 2);
    assert.deepEqual(Object.keys((value as Record<string, unknown>).od as object), ["b", "a"]);
  });
}

Deno.test("os.system via REDUCE becomes an inert record of the call", () => {
  const marker = `/tmp/cheff-pickle-test-${crypto.randomUUID()}`;
  const bytes = new PickleWriter().global("os", "system").str(`touch ${marker}`).op(0x85).reduce().stop();
  const { value } = unpickle(bytes, { source });
  assert.ok(value instanceof PickleObject);
  assert.equal(value.type, "os.system");
  assert.deepEqual(value.args, [`touch ${marker}`]);
  assert.throws(() => Deno.statSync(marker), Deno.errors.NotFound);
});

Deno.test("dangerous builtins are placeholders, never called", () => {
  for (
    const [module, name] of [["builtins", "eval"], ["__builtin__", "getattr"], ["builtins", "__import__"], [
      "builtins",
      "exec",
    ], ["subprocess", "Popen"]]
  ) {
    // STACK_GLOBAL, then NEWOBJ and REDUCE on the result.
    const bytes = new PickleWriter().str(module).str(name).op(0x93).str("1+1").op(0x85).reduce().stop();
    const { value } = unpickle(bytes, { source });
    assert.ok(value instanceof PickleObject, `${module}.${name}`);
    assert.equal(value.type, `${module}.${name}`);
    assert.deepEqual(value.args, ["1+1"]);
  }
  // Protocol 0 INST of a class is a placeholder too.
  const inst = new TextEncoder().encode("(S'rm -rf /'\nisubprocess\ncall\n.");
  const { value } = unpickle(inst, { source });
  assert.ok(value instanceof PickleObject);
  assert.equal(value.type, "subprocess.call");
});

Deno.test("an unknown class keeps its name, arguments and state as data", () => {
  // NEWOBJ of omegaconf-like class, then BUILD with a state dict.
  const bytes = new PickleWriter().global("omegaconf.dictconfig", "DictConfig").op(0x29).op(0x81)
    .emptyDict().str("_content").emptyDict().str("lr").int(3).setitem().setitem().op(0x62).stop();
  const { value } = unpickle(bytes, { source });
  assert.ok(value instanceof PickleObject);
  assert.equal(value.type, "omegaconf.dictconfig.DictConfig");
  assert.deepEqual(value.state, { _content: { lr: 3 } });
  // A bare global reference (typing.Any) stays a reference.
  const ref = unpickle(new PickleWriter().global("typing", "Any").stop(), { source }).value;
  assert.ok(ref instanceof PickleGlobal);
  assert.equal(ref.qualifiedName, "typing.Any");
});

Deno.test("a dict key named __proto__ is an ordinary key", () => {
  const bytes = new PickleWriter().emptyDict().str("__proto__").emptyDict().str("polluted").int(1).setitem()
    .setitem().stop();
  const { value } = unpickle(bytes, { source });
  const dict = value as Record<string, unknown>;
  assert.deepEqual(Object.keys(dict), ["__proto__"]);
  assert.equal(Object.getPrototypeOf(dict), Object.prototype);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

Deno.test("tensor rebuilds reach the rebuildTensor hook with offset, shape and stride", () => {
  const bytes = new PickleWriter().global("torch._utils", "_rebuild_tensor_v2").mark()
    .str("S").int(2).mark().int(3).int(4).tuple().mark().int(1).int(3).tuple().false()
    .global("collections", "OrderedDict").op(0x29).reduce().tuple().reduce().stop();
  const { value } = unpickle(bytes, { source });
  assert.ok(value instanceof TensorRequest);
  assert.deepEqual([value.storage, value.offset, value.shape, value.stride], ["S", 2, [3, 4], [1, 3]]);
});

Deno.test("half a million items appended to a placeholder object are kept", () => {
  const count = 500_000;
  const items: number[] = [];
  for (let i = 0; i < count; i++) items.push(0x4b, i & 0xff);
  const bytes = new PickleWriter().global("some.module", "ListSubclass").op(0x29).op(0x81).mark().raw(items)
    .op(0x65).stop();
  const { value } = unpickle(bytes, { source });
  assert.ok(value instanceof PickleObject);
  assert.equal(value.listItems?.length, count);
});

Deno.test("a truncated pickle is one clear line", () => {
  const whole = fromHex(PROTOCOLS[2]);
  for (const cut of [1, 10, 100, whole.length - 1]) refuses(whole.subarray(0, cut), /truncated/);
});

Deno.test("extension codes, out-of-band buffers and unknown opcodes are refused", () => {
  refuses(Uint8Array.from([0x80, 2, 0x82, 1, 0x2e]), /extension registry/);
  refuses(Uint8Array.from([0x80, 5, 0x97, 0x2e]), /out-of-band/);
  refuses(Uint8Array.from([0x80, 2, 0xff, 0x2e]), /unknown opcode 0xff/);
  refuses(Uint8Array.from([0x80, 2, 0x51, 0x2e]), /stack underflow|persistent/);
});
