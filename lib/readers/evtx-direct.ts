/**
 * EVTX records straight to flattened events, with no element tree for what an event does not keep.
 *
 * A template is parsed once per chunk (every chunk defines the templates it uses again); chunks that
 * define the same template share one tree, and it is compiled once, for each place it is used in
 * (the record itself, the event element, System), into a plan: which values are System fields'
 * text, which elements are the payload (EventData, UserData, ProcessingErrorData, RenderingInfo, built as elements), and
 * which values are only checked. A record then costs its values, not its template. Compiling costs
 * about as much as building a few trees, so a template's first few records are built as trees and
 * flattened, and only a template with more records gets plans.
 *
 * A plan visits and counts every node and checks every value that building the element tree would,
 * so a record fails here exactly when building its tree fails; and whenever it fails, the tree path
 * decides (the same event, or the exact reason it is lost). Where it succeeds it gives what
 * flattenEvent gives; a test holds the two equal on real files, intact and damaged.
 */
import {
  BinXmlChunk,
  matchDefinition,
  eventElement,
  Expansion,
  filetimeTextAt,
  isEmptyValue,
  isInstance,
  isSlot,
  NO_VALUES,
  parseRecordEvent,
  recordNodes,
  type EvtxArray,
  type EvtxElement,
  type EvtxNode,
  type InstanceNode,
  type TemplateAttribute,
  type TemplateElement,
  type TemplateNode,
  type Values,
  ValueListElement,
  type ValueListItemValue,
} from "./evtx-binxml.js";
import {
  assembleEvent,
  dataLayout,
  eventDataFields,
  flattenEvent,
  renderedMessage,
  type DataLayout,
  type EventDataFields,
  type EventParts,
  type FlatEvent,
  type NamedValuesWanted,
  valueListFields,
} from "./evtx-event.js";
import { sharedAttributes } from "./windows-events.js";

/** Where a node stands, which decides what of it an event keeps. */
const enum Place {
  /** The record's own nodes: the first element is the event. */
  Record,
  /** A child of the event element: System, EventData, UserData, ProcessingErrorData, RenderingInfo. */
  EventChild,
  /** A child of System: the fields. */
  SystemChild,
  /** Inside a System field: its text. */
  FieldText,
}

type SystemPart = Exclude<keyof EventParts, "eventData" | "eventDataFields" | "userData" | "message" | "namedValues">;

/** The System fields an event keeps: the part their text fills, or the parts some of their attributes fill. */
const FIELDS: readonly (
  { name: string; part: SystemPart; attributes?: never } | { name: string; part?: never; attributes: Record<string, SystemPart> }
)[] = [
  { name: "EventID", part: "eventId" },
  { name: "TimeCreated", attributes: { SystemTime: "systemTime" } },
  { name: "Computer", part: "computer" },
  { name: "Channel", part: "channel" },
  { name: "Provider", attributes: { Name: "provider" } },
  { name: "EventRecordID", part: "eventRecordId" },
  { name: "Task", part: "task" },
  { name: "Level", part: "level" },
  { name: "Keywords", part: "keywords" },
  { name: "Execution", attributes: { ProcessID: "processId", ThreadID: "threadId" } },
  { name: "Security", attributes: { UserID: "userId" } },
];
const FIELD_INDEX = new Map(FIELDS.map((f, i) => [f.name, i]));

const enum Kind {
  /** A value nobody reads: checked (a BinXml value's nodes are validated). */
  Check,
  /** A substitution at a place: a BinXml value's nodes stand there, any other value is checked. */
  Embed,
  /** Constant text of a field. */
  Text,
  /** A substitution in a field's text: its value appended (a BinXml value's nodes stand there). */
  TextValue,
  /** A template instantiated inside a template, at a place. */
  Instance,
  /** The same, nothing of it read. */
  CheckInstance,
  /** An element among the record's nodes: the first is the event (`ops`), any later one only checked (`others`). */
  RecordElement,
  /** A System field: the first of its name is read (`ops`), a later one only checked (`others`). */
  Field,
  /** One of the field's wanted attributes: its text, when present, fills `part`. */
  FieldAttribute,
  /** A payload element (EventData, UserData, ProcessingErrorData, RenderingInfo), built. */
  Payload,
  /** Inside a built element: constant text, a value, an element, a template instance. */
  BuildText,
  BuildValue,
  BuildElement,
  BuildInstance,
}

/** The last value a substitution rendered: the next record's value is mostly the same bytes. */
class Memo {
  /** The chunk whose bytes it was rendered from. */
  chunk = 0;
  type = -1;
  offset = 0;
  size = 0;
  text = "";
}

const NO_OPS: readonly Op[] = Object.freeze([]);

/** One step of a plan (one shape for every kind, so running a plan stays fast). */
class Op {
  slot = -1;
  place = Place.Record;
  text = "";
  ops: readonly Op[] = NO_OPS;
  others: readonly Op[] = NO_OPS;
  field = -1;
  instance: InstanceNode | null = null;
  attribute: TemplateAttribute | null = null;
  /** For FieldAttribute: the event part the attribute's text fills. */
  part: SystemPart | null = null;
  element: ElementPlan | null = null;
  memo: Memo | null = null;
  /** The element whose checks `others` are, compiled when first needed (a repeated field, a second event element: rare). */
  checked: TemplateElement | null = null;
  constructor(readonly kind: Kind) {}

  /** Ops that only check the element. */
  othersOf(): readonly Op[] {
    if (this.checked) {
      this.others = checks([this.checked], []);
      this.checked = null;
    }
    return this.others;
  }
}

function slotOp(kind: Kind, slot: number, place = Place.Record): Op {
  const step = new Op(kind);
  step.slot = slot;
  step.place = place;
  if (kind === Kind.TextValue || kind === Kind.BuildValue) step.memo = new Memo();
  return step;
}

function textOp(kind: Kind, text: string): Op {
  const step = new Op(kind);
  step.text = text;
  return step;
}

function instanceOp(kind: Kind, instance: InstanceNode, place = Place.Record): Op {
  const step = new Op(kind);
  step.instance = instance;
  step.place = place;
  return step;
}

/** An op that runs `ops` the first time, and after that only checks `element`. */
function choiceOp(kind: Kind, ops: Op[], element: TemplateElement, field = -1): Op {
  const step = new Op(kind);
  step.ops = ops;
  step.checked = element;
  step.field = field;
  return step;
}

/** How an element is built. */
interface ElementPlan {
  name: string;
  attributes: TemplateAttribute[];
  /** The attributes when none holds a substitution: made once and shared by every record built (nothing changes them). */
  constantAttributes: Readonly<Record<string, string>> | null;
  children: readonly Op[];
  /** Whether each child op gives exactly one node (constant text, or an element). */
  oneNodeEach: boolean;
  /** For EventData whose child elements the template fixes: what each gives the event's fields. */
  layout?: DataLayout;
  /** For EventData whose child elements the template fixes as one value each: read as a ValueListElement. */
  valueList?: ValueListPlan;
}

/** The child elements of an element read as a ValueListElement: names, shared attributes, and the step giving each one's value (null: none). */
interface ValueListPlan {
  names: string[];
  attributes: Readonly<Record<string, string>>[];
  values: (Op | null)[];
}

interface Plan {
  /** Nodes the template's tree holds (instances inside it count one each; their own nodes count when they run). */
  nodes: number;
  ops: readonly Op[];
}

/** Nodes a list of template nodes expands to, not counting inside instances or substitutions. */
function nodeCount(nodes: TemplateNode[]): number {
  let n = nodes.length;
  for (const node of nodes) if (typeof node === "object" && !isSlot(node) && !isInstance(node)) n += nodeCount(node.children);
  return n;
}

/** Ops that check an element's attribute values, as building it renders them. */
function attributeChecks(element: TemplateElement, out: Op[]): void {
  for (const attribute of element.attributes)
    for (const part of attribute.value) if (typeof part !== "string") out.push(slotOp(Kind.Check, part.slot));
}

/** Ops that check everything nodes hold, building nothing. */
function checks(nodes: TemplateNode[], out: Op[]): Op[] {
  for (const node of nodes) {
    if (typeof node === "string") continue;
    if (isSlot(node)) out.push(slotOp(Kind.Check, node.slot));
    else if (isInstance(node)) out.push(instanceOp(Kind.CheckInstance, node));
    else {
      attributeChecks(node, out);
      checks(node.children, out);
    }
  }
  return out;
}

/** Text of a System field (textOf its element), or, for TimeCreated, Provider, Execution and Security, some of its attributes. */
function fieldOps(element: TemplateElement, field: number): Op[] {
  const ops: Op[] = [];
  const wanted = FIELDS[field].attributes;
  if (wanted === undefined) {
    attributeChecks(element, ops);
    compile(element.children, Place.FieldText, ops);
    return ops;
  }
  for (const attribute of element.attributes) {
    const part = Object.hasOwn(wanted, attribute.name) ? wanted[attribute.name] : undefined;
    if (part) {
      const step = new Op(Kind.FieldAttribute);
      step.attribute = attribute;
      step.part = part;
      ops.push(step);
    } else for (const value of attribute.value) if (typeof value !== "string") ops.push(slotOp(Kind.Check, value.slot));
  }
  return checks(element.children, ops);
}

function elementPlan(element: TemplateElement): ElementPlan {
  let constantAttributes: Record<string, string> | null = {};
  for (const attribute of element.attributes) {
    if (attribute.value.some((part) => typeof part !== "string")) {
      constantAttributes = null;
      break;
    }
    // As Expansion.element builds it: parts joined, and an empty value is still there.
    constantAttributes[attribute.name] = (attribute.value as string[]).join("");
  }
  const children: Op[] = [];
  for (const node of element.children) {
    if (typeof node === "string") children.push(textOp(Kind.BuildText, node));
    else if (isSlot(node)) children.push(slotOp(Kind.BuildValue, node.slot));
    else if (isInstance(node)) children.push(instanceOp(Kind.BuildInstance, node));
    else {
      const step = new Op(Kind.BuildElement);
      step.element = elementPlan(node);
      children.push(step);
    }
  }
  return {
    name: element.name,
    attributes: element.attributes,
    // Shared by every element built from the plan (so their XML tags are written once).
    constantAttributes: constantAttributes && sharedAttributes(element.name, constantAttributes),
    children,
    oneNodeEach: children.every((step) => step.kind === Kind.BuildText || step.kind === Kind.BuildElement),
  };
}

/** The layout of an EventData element's fields, when its template fixes its child elements (and their Data names). */
function fixedDataLayout(eventData: ElementPlan): DataLayout | undefined {
  const children: { name: string; dataName: string | undefined }[] = [];
  for (const step of eventData.children) {
    if (step.kind === Kind.BuildText) continue;
    const element = step.element;
    if (step.kind !== Kind.BuildElement || !element) return undefined;
    if (element.name === "Data" && !element.constantAttributes) return undefined;
    children.push({ name: element.name, dataName: element.constantAttributes?.Name });
  }
  return dataLayout(children);
}

/** An element's plan as a value list, when its attributes and its child elements' are constant and each child holds at most one value. */
function valueListPlan(plan: ElementPlan): ValueListPlan | undefined {
  if (!plan.constantAttributes) return undefined;
  const list: ValueListPlan = { names: [], attributes: [], values: [] };
  for (const step of plan.children) {
    const element = step.element;
    if (step.kind !== Kind.BuildElement || !element?.constantAttributes || element.children.length > 1) return undefined;
    const only = element.children.length ? element.children[0] : null;
    if (only && only.kind !== Kind.BuildValue) return undefined;
    list.names.push(element.name);
    list.attributes.push(element.constantAttributes);
    list.values.push(only);
  }
  return list;
}

/** Appends the ops for `nodes` standing at `place`. */
function compile(nodes: TemplateNode[], place: Place, out: Op[]): Op[] {
  for (const node of nodes) {
    if (typeof node === "string") {
      if (place === Place.FieldText) out.push(textOp(Kind.Text, node));
    } else if (isSlot(node)) out.push(slotOp(place === Place.FieldText ? Kind.TextValue : Kind.Embed, node.slot, place));
    else if (isInstance(node)) out.push(instanceOp(Kind.Instance, node, place));
    else compileElement(node, place, out);
  }
  return out;
}

function compileElement(element: TemplateElement, place: Place, out: Op[]): void {
  switch (place) {
    case Place.Record: {
      const ops: Op[] = [];
      attributeChecks(element, ops);
      compile(element.children, Place.EventChild, ops);
      out.push(choiceOp(Kind.RecordElement, ops, element));
      return;
    }
    case Place.EventChild:
      if (element.name === "System") {
        attributeChecks(element, out);
        compile(element.children, Place.SystemChild, out);
      } else if (
        element.name === "EventData" ||
        element.name === "UserData" ||
        element.name === "ProcessingErrorData" ||
        element.name === "RenderingInfo"
      ) {
        const step = new Op(Kind.Payload);
        step.element = elementPlan(element);
        if (element.name === "EventData") {
          step.element.layout = fixedDataLayout(step.element);
          if (step.element.layout) step.element.valueList = valueListPlan(step.element);
        }
        out.push(step);
      } else checks([element], out);
      return;
    case Place.SystemChild: {
      const field = FIELD_INDEX.get(element.name);
      if (field === undefined) checks([element], out);
      else out.push(choiceOp(Kind.Field, fieldOps(element, field), element, field));
      return;
    }
    case Place.FieldText:
      attributeChecks(element, out);
      compile(element.children, Place.FieldText, out);
  }
}

/** Records of a template read through the element tree before its plans are compiled. */
const TREE_RECORDS_PER_TEMPLATE = 4;

/** Mixes a number into a running FNV-1a style hash. */
const mix = (hash: number, n: number) => Math.imul(hash ^ n, 0x01000193);

function mixText(hash: number, text: string): number {
  hash = mix(hash, text.length);
  for (let i = 0; i < text.length; i++) hash = mix(hash, text.charCodeAt(i));
  return hash;
}

/**
 * A hash of everything a plan is compiled from (names, texts, slots, and how they nest), or
 * undefined for a template that instantiates another inside it (its values are the chunk's bytes,
 * not structure). Worked out on the tree as it is, with no key built.
 */
function structureHash(nodes: readonly TemplateNode[], hash: number): number | undefined {
  hash = mix(hash, nodes.length);
  for (const node of nodes) {
    if (typeof node === "string") hash = mixText(mix(hash, 1), node);
    else if (isSlot(node)) hash = mix(mix(hash, node.optional ? 2 : 3), node.slot);
    else if (isInstance(node)) return undefined;
    else {
      hash = mix(mixText(mix(hash, 4), node.name), node.attributes.length);
      for (const attribute of node.attributes) {
        const value = structureHash(attribute.value, mixText(hash, attribute.name));
        if (value === undefined) return undefined;
        hash = value;
      }
      const children = structureHash(node.children, hash);
      if (children === undefined) return undefined;
      hash = children;
    }
  }
  return hash;
}

/** Whether two templates with no instance inside them are the same in everything a plan is compiled from. */
function sameStructure(a: readonly TemplateNode[], b: readonly TemplateNode[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = b[i];
    if (typeof x === "string" || typeof y === "string") {
      if (x !== y) return false;
    } else if (isSlot(x) || isSlot(y)) {
      if (!isSlot(x) || !isSlot(y) || x.slot !== y.slot || x.optional !== y.optional) return false;
    } else if (isInstance(x) || isInstance(y)) return false;
    else {
      if (x.name !== y.name || x.attributes.length !== y.attributes.length) return false;
      for (let k = 0; k < x.attributes.length; k++)
        if (x.attributes[k].name !== y.attributes[k].name || !sameStructure(x.attributes[k].value, y.attributes[k].value)) return false;
      if (!sameStructure(x.children, y.children)) return false;
    }
  }
  return true;
}

/** Values by a numeric key, at most `maxValues` in all (past that it starts afresh) and `perKey` for one key. */
class CappedMultiMap<V> {
  private readonly byKey = new Map<number, V[]>();
  private count = 0;

  constructor(
    private readonly maxValues: number,
    private readonly perKey = Infinity,
  ) {}

  get(key: number): readonly V[] | undefined {
    return this.byKey.get(key);
  }

  /** Adds `value` under `key`, unless it is there already or the key holds `perKey` values. */
  add(key: number, value: V): void {
    if (this.count >= this.maxValues) {
      this.byKey.clear();
      this.count = 0;
    }
    const values = this.byKey.get(key);
    if (!values) this.byKey.set(key, [value]);
    else if (values.length < this.perKey && !values.includes(value)) values.push(value);
    else return;
    this.count++;
  }
}

const MAX_SHARED_TEMPLATES = 4096;
/**
 * Templates by their structure, shared by every chunk (and file) that defines the same template:
 * a chunk defines each template it uses again, and a log's templates recur in every chunk and in
 * every file of its channel, so a template's plans (keyed by its tree) are compiled once, and its
 * first few records anywhere, not in each chunk, are read through the element tree.
 */
const sharedTemplates = new CappedMultiMap<TemplateNode[]>(MAX_SHARED_TEMPLATES);
/** Plans of each template, one per place; and how many records instantiated it so far. */
const templatePlans = new WeakMap<TemplateNode[], (Plan | undefined)[]>();
const templateRecords = new WeakMap<TemplateNode[], number>();

/** The shared tree of a template whose structure hashes to `hash`: one defined alike before, or this one, now shared. */
function sharedTree(hash: number, template: TemplateNode[]): TemplateNode[] {
  for (const shared of sharedTemplates.get(hash) ?? []) if (sameStructure(shared, template)) return shared;
  sharedTemplates.add(hash, template);
  return template;
}

/** Trees kept for one identifier and size: a file reusing one identifier for many templates costs no more than a few comparisons. */
const MAX_TREES_PER_DEFINITION = 4;
/**
 * Shared trees by the identifier (GUID) and data size of the definitions they were parsed from. A
 * chunk's definition is compared with these before it is parsed: most are a template read in an
 * earlier chunk or file, and comparing its bytes with the tree costs a fraction of parsing it,
 * hashing the result and comparing that. A definition they do not match is parsed as before.
 */
const treesByDefinition = new CappedMultiMap<TemplateNode[]>(MAX_SHARED_TEMPLATES, MAX_TREES_PER_DEFINITION);

/**
 * The last definition matched for each identifier and size, with where it stood and the names
 * defined outside it that the match read (unless it read more than names there). Half the
 * definitions of a folder of logs saved from the same channels are those bytes again at that offset
 * (a chunk's templates follow the same records in every file of a channel), and comparing bytes
 * costs a fraction of matching them token by token.
 */
const sameDefinitions = new Map<number, { offset: number; bytes: Buffer; names: { at: number; bytes: Buffer }[]; tree: TemplateNode[] }>();

/** Whether `buf` holds `bytes` from `start` to `end`. */
function sameBytesAt(buf: Buffer, bytes: Buffer, start: number, end: number): boolean {
  return end - start === bytes.length && end <= buf.length && buf.compare(bytes, 0, bytes.length, start, end) === 0;
}

/** A hash of a template definition's identifier (GUID) and data size. */
function definitionKey(buf: Buffer, definitionOffset: number): number {
  let hash = 0x811c9dc5;
  for (let at = definitionOffset + 4; at < definitionOffset + 24; at += 4) hash = mix(hash, buf.readUInt32LE(at));
  return hash;
}

/** Numbers chunks, so a value remembered from one chunk's bytes is not taken for another's. */
let chunkSerial = 0;

/** A chunk whose templates are shared with every chunk that defines them the same, and with them their plans. */
export class PlannedChunk extends BinXmlChunk {
  readonly serial = ++chunkSerial;
  /** The chunk's bytes, read four at a time where bytes are compared. */
  readonly view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);

  protected override recognise(definitionOffset: number, start: number, end: number): TemplateNode[] | undefined {
    const key = definitionKey(this.buf, definitionOffset);
    const same = sameDefinitions.get(key);
    if (
      same &&
      same.offset === definitionOffset &&
      sameBytesAt(this.buf, same.bytes, start, end) &&
      same.names.every((name) => sameBytesAt(this.buf, name.bytes, name.at, name.at + name.bytes.length))
    )
      return same.tree;
    const trees = treesByDefinition.get(key);
    if (!trees) return undefined;
    for (const tree of trees) {
      const { matches, outsideNames } = matchDefinition(this, start, end, tree);
      if (!matches) continue;
      if (outsideNames) {
        const names: { at: number; bytes: Buffer }[] = [];
        for (let i = 0; i < outsideNames.length; i += 2)
          names.push({ at: outsideNames[i], bytes: Buffer.from(this.buf.subarray(outsideNames[i], outsideNames[i + 1])) });
        if (sameDefinitions.size >= MAX_SHARED_TEMPLATES) sameDefinitions.clear();
        sameDefinitions.set(key, { offset: definitionOffset, bytes: Buffer.from(this.buf.subarray(start, end)), names, tree });
      }
      return tree;
    }
    return undefined;
  }

  protected override adopt(template: TemplateNode[], definitionOffset: number): TemplateNode[] {
    const hash = structureHash(template, 0x811c9dc5);
    if (hash === undefined) return template;
    const shared = sharedTree(hash, template);
    treesByDefinition.add(definitionKey(this.buf, definitionOffset), shared);
    return shared;
  }

  /**
   * Whether a record with these nodes is read through the element tree: one that holds its nodes
   * itself rather than instantiating a template (a plan for them would serve that record alone), or
   * among the first few to instantiate its template. Compiling a template's plans costs about as much
   * as building a few trees, so it pays off only for a template with more records (small files hold
   * a record or two of each of several templates; most templates recur in many files, and a full
   * chunk holds many of each).
   */
  readThroughTree(nodes: TemplateNode[]): boolean {
    const only = nodes.length === 1 ? nodes[0] : undefined;
    if (!only || !isInstance(only)) return true;
    const seen = templateRecords.get(only.template) ?? 0;
    if (seen >= TREE_RECORDS_PER_TEMPLATE) return false;
    templateRecords.set(only.template, seen + 1);
    return true;
  }

  plan(template: TemplateNode[], place: Place): Plan {
    let byPlace = templatePlans.get(template);
    if (!byPlace) templatePlans.set(template, (byPlace = [undefined, undefined, undefined, undefined]));
    return (byPlace[place] ??= { nodes: nodeCount(template), ops: compile(template, place, []) });
  }
}

/** Value types whose rendering costs more than comparing their bytes with the last value's (strings, GUIDs, SIDs, 64-bit hex). */
function memoizedType(type: number): boolean {
  return type === 0x01 || type === 0x0f || type === 0x13 || type === 0x15;
}

/** Whether the `size` bytes at `a` and at `b` are the same (compared four at a time: a byte at a time took four times as long). */
function sameBytes(view: DataView, a: number, b: number, size: number): boolean {
  if (a === b) return true;
  let i = 0;
  for (; i + 4 <= size; i += 4) if (view.getUint32(a + i, true) !== view.getUint32(b + i, true)) return false;
  for (; i < size; i++) if (view.getUint8(a + i) !== view.getUint8(b + i)) return false;
  return true;
}

/** An event's parts with every field there from the start: one object shape for every record, in whatever order its template fills them. */
class DecodedParts implements EventParts {
  eventId: string | undefined = undefined;
  systemTime: string | undefined = undefined;
  computer: string | undefined = undefined;
  channel: string | undefined = undefined;
  provider: string | undefined = undefined;
  eventRecordId: string | undefined = undefined;
  task: string | undefined = undefined;
  level: string | undefined = undefined;
  keywords: string | undefined = undefined;
  processId: string | undefined = undefined;
  threadId: string | undefined = undefined;
  userId: string | undefined = undefined;
  eventData: EvtxElement | undefined = undefined;
  eventDataFields: EventDataFields | undefined = undefined;
  userData: EvtxElement | undefined = undefined;
  message: string | null = null;
  namedValues = true;

  /** Fills a System part (a store by a variable name would be looked up among every shape the parts object has had). */
  setSystemPart(part: SystemPart, text: string): void {
    switch (part) {
      case "eventId":
        this.eventId = text;
        break;
      case "systemTime":
        this.systemTime = text;
        break;
      case "computer":
        this.computer = text;
        break;
      case "channel":
        this.channel = text;
        break;
      case "provider":
        this.provider = text;
        break;
      case "eventRecordId":
        this.eventRecordId = text;
        break;
      case "task":
        this.task = text;
        break;
      case "level":
        this.level = text;
        break;
      case "keywords":
        this.keywords = text;
        break;
      case "processId":
        this.processId = text;
        break;
      case "threadId":
        this.threadId = text;
        break;
      case "userId":
        this.userId = text;
        break;
    }
  }
}

const ALWAYS: NamedValuesWanted = () => true;

/** Runs plans over one record's values. */
class DirectDecoding extends Expansion {
  declare protected readonly chunk: PlannedChunk;
  readonly parts = new DecodedParts();

  constructor(
    chunk: PlannedChunk,
    private readonly namedValuesWanted: NamedValuesWanted,
  ) {
    super(chunk);
  }

  hasEvent = false;
  /** Fields seen, one bit each (the first of a name counts). */
  private seen = 0;
  private text = "";

  /** Nodes standing at `place` (a record's, or a BinXml value's). */
  nodesAt(nodes: TemplateNode[], values: Values, depth: number, place: Place): void {
    for (const node of nodes) {
      if (isInstance(node)) {
        this.count();
        this.instance(node, place, depth);
      } else {
        this.count(nodeCount([node]));
        this.run(compile([node], place, []), values, depth);
      }
    }
  }

  private instance(node: InstanceNode, place: Place, depth: number): void {
    this.enterInstance(depth);
    const plan = this.chunk.plan(node.template, place);
    this.count(plan.nodes);
    this.run(plan.ops, node.values, depth + 1);
  }

  /** A value's text (neither empty nor BinXml), the last one's again when its bytes are. */
  private rendered(values: Values, slot: number, depth: number, memo: Memo): string | EvtxArray {
    const type = values.type(slot);
    const offset = values.offset(slot);
    const size = values.size(slot);
    const memoized = memoizedType(type);
    const chunk = this.chunk;
    if (
      memoized &&
      memo.chunk === chunk.serial &&
      memo.type === type &&
      memo.size === size &&
      sameBytes(chunk.view, memo.offset, offset, size)
    )
      return memo.text;
    const text = this.value(values, slot, depth) as string | EvtxArray;
    if (memoized && typeof text === "string") {
      memo.chunk = chunk.serial;
      memo.type = type;
      memo.offset = offset;
      memo.size = size;
      memo.text = text;
    }
    return text;
  }

  private run(ops: readonly Op[], values: Values, depth: number): void {
    for (const step of ops) {
      switch (step.kind) {
        case Kind.Check:
          this.check(values, step.slot, depth);
          break;
        case Kind.Embed: {
          const slot = step.slot;
          if (!values.has(slot) || isEmptyValue(values.type(slot), values.size(slot))) break;
          if (values.type(slot) === 0x21) this.nodesAt(this.nested(values, slot, depth), NO_VALUES, depth + 1, step.place);
          else this.check(values, slot, depth);
          break;
        }
        case Kind.Text:
          this.text += step.text;
          break;
        case Kind.TextValue: {
          const slot = step.slot;
          if (!values.has(slot) || isEmptyValue(values.type(slot), values.size(slot))) break;
          if (values.type(slot) === 0x21) this.nodesAt(this.nested(values, slot, depth), NO_VALUES, depth + 1, Place.FieldText);
          else {
            const text = this.rendered(values, slot, depth, step.memo!);
            this.text += typeof text === "string" ? text : text.items.join("\n");
          }
          break;
        }
        case Kind.Instance:
          this.instance(step.instance!, step.place, depth);
          break;
        case Kind.CheckInstance: {
          const instance = step.instance!;
          this.enterInstance(depth);
          for (const node of instance.template) this.validate(node, instance.values, depth + 1);
          break;
        }
        case Kind.RecordElement:
          if (this.hasEvent) this.run(step.othersOf(), values, depth);
          else {
            this.hasEvent = true;
            this.run(step.ops, values, depth);
          }
          break;
        case Kind.Field:
          this.field(step, values, depth);
          break;
        case Kind.FieldAttribute: {
          const text = this.attributeText(step.attribute!, values, depth);
          if (text !== undefined) this.parts.setSystemPart(step.part!, text);
          break;
        }
        case Kind.Payload: {
          const plan = step.element!;
          this.payload((plan.valueList && this.valueList(plan, plan.valueList, values, depth)) ?? this.build(plan, values, depth), plan);
          break;
        }
        default:
          throw new Error(`op ${step.kind} outside an element being built`);
      }
    }
  }

  private field(step: Op, values: Values, depth: number): void {
    const bit = 1 << step.field;
    if (this.seen & bit) return this.run(step.othersOf(), values, depth);
    this.seen |= bit;
    const field = FIELDS[step.field];
    if (field.part !== undefined) {
      this.text = "";
      this.run(step.ops, values, depth);
      this.parts.setSystemPart(field.part, this.text);
    } else this.run(step.ops, values, depth);
  }

  private payload(element: EvtxElement, plan: ElementPlan): void {
    const parts = this.parts;
    // Asked as each payload element comes: the channel is known once System has been read.
    parts.namedValues = this.namedValuesWanted(parts.channel);
    if (element.name === "EventData") {
      parts.eventData = element;
      parts.eventDataFields =
        plan.layout &&
        (element instanceof ValueListElement
          ? valueListFields(plan.layout, element.values, parts.namedValues)
          : eventDataFields(element, plan.layout, parts.namedValues));
    } else if (element.name === "UserData") parts.userData = element;
    // What Windows writes instead of the event's data when it could not render it: kept as UserData is.
    else if (element.name === "ProcessingErrorData") parts.userData ??= element;
    else {
      const message = renderedMessage(element);
      if (message !== undefined) parts.message = message;
    }
  }

  /** The element as a ValueListElement, or undefined when a value holds BinXml (nodes of its own: the element is built instead). */
  private valueList(plan: ElementPlan, list: ValueListPlan, values: Values, depth: number): ValueListElement | undefined {
    const steps = list.values;
    const items = new Array<ValueListItemValue>(steps.length);
    for (let i = 0; i < steps.length; i++) {
      const step = steps[i];
      const slot = step ? step.slot : -1;
      if (!step || !values.has(slot) || isEmptyValue(values.type(slot), values.size(slot))) items[i] = null;
      else if (values.type(slot) === 0x21) return undefined;
      else items[i] = this.rendered(values, slot, depth, step.memo!);
    }
    return new ValueListElement(plan.name, plan.constantAttributes!, list.names, list.attributes, items);
  }

  /** An element built as Expansion.element builds it (its nodes already counted). */
  private build(plan: ElementPlan, values: Values, depth: number): EvtxElement {
    let attributes = plan.constantAttributes;
    if (!attributes) {
      const built: Record<string, string> = {};
      for (const attribute of plan.attributes) {
        const text = this.attributeText(attribute, values, depth);
        if (text !== undefined) built[attribute.name] = text;
      }
      attributes = built;
    }
    const ops = plan.children;
    // Children arrays of their exact length where it is known ahead: an array grown by push holds
    // room for 17 nodes from its first, and most elements hold one value or a fixed list of elements.
    if (ops.length === 1 && ops[0].kind === Kind.BuildValue)
      return { name: plan.name, attributes, children: this.valueNodes(ops[0], values, depth) };
    if (plan.oneNodeEach) {
      const children = new Array<EvtxNode>(ops.length);
      for (let i = 0; i < ops.length; i++) {
        const step = ops[i];
        children[i] = step.kind === Kind.BuildText ? step.text : this.build(step.element!, values, depth);
      }
      return { name: plan.name, attributes, children };
    }
    const children: EvtxNode[] = [];
    for (const step of ops) {
      switch (step.kind) {
        case Kind.BuildText:
          children.push(step.text);
          break;
        case Kind.BuildValue: {
          const slot = step.slot;
          if (!values.has(slot) || isEmptyValue(values.type(slot), values.size(slot))) break;
          if (values.type(slot) === 0x21)
            for (const node of this.nested(values, slot, depth)) this.into(children, node, NO_VALUES, depth + 1);
          else children.push(this.rendered(values, slot, depth, step.memo!));
          break;
        }
        case Kind.BuildElement:
          children.push(this.build(step.element!, values, depth));
          break;
        case Kind.BuildInstance: {
          const instance = step.instance!;
          this.enterInstance(depth);
          for (const node of instance.template) this.into(children, node, instance.values, depth + 1);
          break;
        }
        default:
          throw new Error(`op ${step.kind} inside an element being built`);
      }
    }
    return { name: plan.name, attributes, children };
  }

  /** The nodes a BuildValue step adds to its element: none, the value's text, or a BinXml value's nodes. */
  private valueNodes(step: Op, values: Values, depth: number): EvtxNode[] {
    const slot = step.slot;
    if (!values.has(slot) || isEmptyValue(values.type(slot), values.size(slot))) return [];
    if (values.type(slot) !== 0x21) return [this.rendered(values, slot, depth, step.memo!)];
    const children: EvtxNode[] = [];
    for (const node of this.nested(values, slot, depth)) this.into(children, node, NO_VALUES, depth + 1);
    return children;
  }
}

/** The flattened event of a record's nodes, read directly; throws where that fails. */
function directEvent(chunk: PlannedChunk, nodes: TemplateNode[], pos: number, recordId: number, namedValues = ALWAYS): FlatEvent {
  const decoding = new DirectDecoding(chunk, namedValues);
  decoding.nodesAt(nodes, NO_VALUES, 0, Place.Record);
  if (!decoding.hasEvent) throw new Error("record holds no event element");
  return assembleEvent(decoding.parts, recordId, () => filetimeTextAt(chunk.buf, pos + 16));
}

function treeEvent(chunk: BinXmlChunk, root: EvtxElement, pos: number, recordId: number, namedValues?: NamedValuesWanted): FlatEvent {
  return flattenEvent({ recordId, written: filetimeTextAt(chunk.buf, pos + 16), root }, namedValues);
}

/** The flattened event of the record at `pos` (whose header has been checked), read directly; throws where that fails. */
export function decodeEventDirect(chunk: PlannedChunk, pos: number, size: number, recordId: number): FlatEvent {
  return directEvent(chunk, recordNodes(chunk, pos, size), pos, recordId);
}

/**
 * The flattened event of the record at `pos`: read directly, or, for a record with no template and
 * the first few records of a template, through the element tree; and when that fails, through the element tree
 * from the start, which gives the same event or says exactly why not. An event whose channel
 * `namedValues` refuses leaves its named values out.
 */
export function decodeEvent(chunk: PlannedChunk, pos: number, size: number, recordId: number, namedValues = ALWAYS): FlatEvent {
  try {
    const nodes = recordNodes(chunk, pos, size);
    if (chunk.readThroughTree(nodes)) return treeEvent(chunk, eventElement(chunk, nodes), pos, recordId, namedValues);
    return directEvent(chunk, nodes, pos, recordId, namedValues);
  } catch {
    return treeEvent(chunk, parseRecordEvent(chunk, pos, size), pos, recordId, namedValues);
  }
}
