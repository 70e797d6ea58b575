// The lazily loaded recorder bundle: registers itself for the core client to start.
import { startRecorder } from "./recorder";

(window as unknown as { __userlens_recorder: typeof startRecorder }).__userlens_recorder =
  startRecorder;
