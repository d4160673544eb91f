// The baseline of every HTTP figure in bench/RESULTS.md: the platform's own hello-world Worker, nothing of ours.
export default {
  fetch() {
    return new Response("ok");
  },
};
