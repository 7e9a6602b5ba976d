// Vite's `?raw` import: the file's text as a string (the policy suites read examples/policies/ in
// both runtimes this way; workerd has no file system).
declare module '*?raw' {
  const text: string
  export default text
}
