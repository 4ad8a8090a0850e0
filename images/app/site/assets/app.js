// Shows what this build is (version.json, made when the image was built) and how this
// instance is configured (config.json, written by boot from the environment).
async function show(url, fill) {
  try {
    const response = await fetch(url, { cache: "no-store" });
    if (response.ok) fill(await response.json());
  } catch (error) {
    console.error(`${url}: ${error}`);
  }
}

show("version.json", (build) => {
  document.getElementById("version").textContent = build.version;
});
show("config.json", (config) => {
  document.getElementById("env").textContent = config.env;
  document.getElementById("api").textContent = config.apiUrl;
});
