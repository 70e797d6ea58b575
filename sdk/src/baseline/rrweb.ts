// @rrweb/record on its own, with its defaults: the baseline the benchmarks compare against.
import { record } from "@rrweb/record";

(window as unknown as { rrwebRecord: typeof record }).rrwebRecord = record;
