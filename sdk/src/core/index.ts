// The ES module build: `import { userlens } from "userlens"`.
export { Userlens, VERSION } from "./client";
export type { Config } from "./client";
import { Userlens } from "./client";

export const userlens = new Userlens();
export default userlens;
