// The onboarding page: search the catalogue, rate with stars, see recommendations.
// Ratings live in localStorage; each change (of a rating or of the filter row) asks
// POST /recommendations again, whose answer says which catalogue title each rating was read
// as and which scorer ordered the list: the page shows both.
"use strict";

const STORAGE_KEY = "embrec.ratings";
const state = {
  scale: { low: 1, high: 5, step: 1 },
  ratings: loadRatings(),    // { item_id: { rating, title, order, input } }, input: the search text
  results: [],
  lastRated: null,           // item_id of the latest rating, whose match the page shows
  recsVersion: 0,
};

const $ = (id) => document.getElementById(id);

function loadRatings() {
  try {
    return JSON.parse(localStorage.getItem(STORAGE_KEY)) || {};
  } catch (error) {
    return {};
  }
}

function saveRatings() {
  try {
    localStorage.setItem(STORAGE_KEY, JSON.stringify(state.ratings));
  } catch (error) {
    // Private windows may refuse storage; the page still works for this visit.
  }
}

async function api(path, options = {}) {
  const response = await fetch(path, {
    headers: { "Content-Type": "application/json" },
    ...options,
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new Error(body.detail || `${response.status} ${response.statusText}`);
  }
  return body;
}

function showStatus(message) {
  $("status").textContent = message || "";
}

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("data-") || key.startsWith("aria-")) node.setAttribute(key, value);
    else node[key] = value;
  }
  for (const child of children) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

function starValues() {
  const { low, high } = state.scale;
  const values = [];
  for (let value = Math.max(1, Math.ceil(low)); value <= high; value += 1) values.push(value);
  return values;
}

function starsWidget(item) {
  const current = state.ratings[item.item_id]?.rating ?? 0;
  const group = el("div", { class: "stars", role: "group", "aria-label": `Rate ${item.title}` });
  for (const value of starValues()) {
    const star = el("button", {
      type: "button",
      class: value <= current ? "star on" : "star",
      title: `${value} star${value > 1 ? "s" : ""}`,
      "aria-label": `Rate ${item.title} ${value} out of ${state.scale.high}`,
      "data-value": String(value),
    }, "\u2605");
    star.addEventListener("click", () => rate(item, value));
    group.append(star);
  }
  return group;
}

function describe(item) {
  const parts = [];
  if (item.year) parts.push(String(item.year));
  if (item.genres?.length) parts.push(item.genres.slice(0, 3).join(", "));
  if (item.n_ratings) parts.push(`rated by ${item.n_ratings.toLocaleString()} people`);
  return parts.join(" \u00b7 ");
}

// "Usual Suspects, The (1995)" reads as "The Usual Suspects"; the year is shown apart.
function shortTitle(title) {
  const bare = title.replace(/\s*\(\d{4}\)\s*$/, "");
  const moved = bare.match(/^(.*), (The|A|An|Les|La|Le|L'|Il|El|Der|Die|Das)$/);
  if (!moved) return bare;
  return moved[2].endsWith("'") ? `${moved[2]}${moved[1]}` : `${moved[2]} ${moved[1]}`;
}

function yearOf(title) {
  const found = title.match(/\((\d{4})\)\s*$/);
  return found ? found[1] : "";
}

function renderResults() {
  const list = $("results");
  list.replaceChildren();
  for (const item of state.results) {
    const rated = item.item_id in state.ratings;
    list.append(el("li", { class: rated ? "movie rated" : "movie", "data-item-id": String(item.item_id) },
      el("div", { class: "movie-text" },
        el("div", { class: "title" }, shortTitle(item.title)),
        el("div", { class: "meta" }, describe(item))),
      starsWidget(item)));
  }
  if (!state.results.length) {
    list.append(el("li", { class: "empty" }, "No movie matches that search. Try fewer words."));
  }
}

function renderRated() {
  const entries = Object.entries(state.ratings);
  $("rated-count").textContent = String(entries.length);
  $("rated-empty").hidden = entries.length > 0;
  $("start-over").disabled = entries.length === 0;
  const list = $("rated");
  list.replaceChildren();
  entries.sort((a, b) => (b[1].order ?? 0) - (a[1].order ?? 0));
  for (const [itemId, { rating, title }] of entries) {
    const remove = el("button", { type: "button", class: "remove", "aria-label": `Remove ${title}` }, "\u00d7");
    remove.addEventListener("click", () => unrate(itemId));
    list.append(el("li", { class: "chip", "data-item-id": itemId,
                           title: matchText(state.ratings[itemId]) },
      el("span", { class: "chip-title" }, shortTitle(title)),
      el("span", { class: "chip-stars" }, "\u2605".repeat(Math.round(rating))),
      remove));
  }
}

function scoreStars(score) {
  const rounded = Math.round(score * 2) / 2;
  return "\u2605".repeat(Math.floor(rounded)) + (rounded % 1 ? "\u00bd" : "");
}

function becauseLine(because) {
  if (!because?.length) return null;
  const names = because.map(shortTitle);
  const joined = names.length > 1 ? `${names.slice(0, -1).join(", ")} and ${names.at(-1)}` : names[0];
  return el("div", { class: "because" }, `Because you rated ${joined}`);
}

function matchText({ input, title }) {
  return input ? `Matched: ${input} \u2192 ${title}` : `Rated: ${title}`;
}

// The server's titles win: they are what it actually read each rating as.
function applyMatches(matched) {
  let changed = false;
  for (const match of matched ?? []) {
    const mine = state.ratings[String(match.item_id)];
    if (mine && mine.title !== match.title) {
      mine.title = match.title;
      changed = true;
    }
  }
  if (changed) {
    saveRatings();
    renderRated();
  }
  const line = $("matched");
  const latest = (matched ?? []).find((match) => String(match.item_id) === state.lastRated);
  const mine = latest && state.ratings[state.lastRated];
  if (!mine) {
    line.replaceChildren();
    return;
  }
  const jump = el("a", { class: "jump", href: "#recs-title" }, "See recommendations \u2193");
  const text = mine.input
    ? ["Matched: ", el("span", { class: "input" }, mine.input), " \u2192 ",
       el("span", { class: "title" }, latest.title)]
    : ["Rated: ", el("span", { class: "title" }, latest.title)];
  line.replaceChildren(el("span", { class: "match-text" }, ...text), jump);
}

function renderRecommendations(answer) {
  const list = $("recommendations");
  list.replaceChildren();
  const count = Object.keys(state.ratings).length;
  $("recs-note").textContent = answer.strategy.startsWith("cold-start")
    ? "Popular, well-liked movies. Rate a few you have seen to make this list yours."
    : `Based on your ${count} rating${count === 1 ? "" : "s"}. The more you rate, the better it gets.`;
  for (const item of answer.items) {
    list.append(el("li", { class: "rec", "data-item-id": String(item.item_id) },
      el("div", { class: "rec-head" },
        el("span", { class: "title" }, shortTitle(item.title),
          el("span", { class: "year" }, yearOf(item.title))),
        el("span", { class: "predicted", title: `We think you would rate it ${item.score.toFixed(1)}` },
          el("span", { class: "pstars" }, scoreStars(item.score)), ` ${item.score.toFixed(1)}`)),
      becauseLine(item.because)));
  }
  $("recs-scorer").textContent = `Ordered by ${answer.scorer}.`;
  applyMatches(answer.matched);
  list.dataset.version = String(state.recsVersion);
  document.body.dataset.recommendations = String(answer.items.length);
}

// The filter row as POST /recommendations fields: min_ratings, include/exclude genre:NAME.
function filters() {
  const chosen = {};
  const least = Number.parseInt($("min-ratings").value, 10);
  if (Number.isFinite(least) && least > 0) chosen.min_ratings = least;
  const only = $("include-genre").value.trim();
  if (only) chosen.include = [`genre:${only}`];
  const not = $("exclude-genre").value.trim();
  if (not) chosen.exclude = [`genre:${not}`];
  return chosen;
}

async function refreshRecommendations() {
  const version = ++state.recsVersion;
  const ratings = Object.fromEntries(
    Object.entries(state.ratings).map(([itemId, { rating }]) => [itemId, rating]));
  $("recommendations").classList.add("loading");
  try {
    const answer = await api("recommendations", {
      method: "POST",
      body: JSON.stringify({ ratings, n: 10, ...filters() }),
    });
    if (version !== state.recsVersion) return;
    renderRecommendations(answer);
    showStatus("");
  } catch (error) {
    if (version === state.recsVersion) showStatus(`Could not get recommendations: ${error.message}`);
  } finally {
    if (version === state.recsVersion) $("recommendations").classList.remove("loading");
  }
}

function rate(item, value) {
  const order = Math.max(0, ...Object.values(state.ratings).map((r) => r.order ?? 0)) + 1;
  const input = $("search").value.trim();
  state.ratings[item.item_id] = { rating: value, title: item.title, order, input };
  state.lastRated = String(item.item_id);
  saveRatings();
  renderResults();
  renderRated();
  refreshRecommendations();
}

function unrate(itemId) {
  delete state.ratings[itemId];
  saveRatings();
  renderResults();
  renderRated();
  refreshRecommendations();
}

function startOver() {
  state.ratings = {};
  saveRatings();
  $("search").value = "";
  search("");
  renderRated();
  refreshRecommendations();
}

let searchVersion = 0;
async function search(query) {
  const version = ++searchVersion;
  try {
    const answer = await api(`items?query=${encodeURIComponent(query)}&limit=12`);
    if (version !== searchVersion) return;
    state.results = answer.items;
    $("results-hint").textContent = query.trim()
      ? `Movies matching \u201c${query.trim()}\u201d:`
      : "Popular movies to get you started:";
    renderResults();
  } catch (error) {
    if (version === searchVersion) showStatus(`Search failed: ${error.message}`);
  }
}

function debounce(fn, ms) {
  let timer;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

async function start() {
  $("search").addEventListener("input", debounce((event) => search(event.target.value), 200));
  $("start-over").addEventListener("click", startOver);
  $("filters").addEventListener("submit", (event) => event.preventDefault());
  $("filters").addEventListener("input", debounce(refreshRecommendations, 300));
  try {
    const health = await api("health");
    state.scale = health.scale;
    $("about").textContent =
      `${health.n_items.toLocaleString()} movies \u00b7 model ${health.model} trained on ` +
      `${health.dataset} \u00b7 embrec ${health.embrec_version} \u00b7 `;
    $("about").append(el("a", { href: "docs" }, "API docs"));
  } catch (error) {
    showStatus(`The server did not answer: ${error.message}`);
  }
  renderRated();
  await Promise.all([search(""), refreshRecommendations()]);
  document.body.dataset.ready = "true";
}

start();
