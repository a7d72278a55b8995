// Inside Telegram, the Mini App's signed initData arrives in the URL's fragment
// (tgWebAppData) and, where Telegram's script is loaded, as Telegram.WebApp.initData.
// It is exchanged once for a session cookie; the server checks its signature.
(async () => {
  const status = document.getElementById("status");
  const fromHash = new URLSearchParams(location.hash.slice(1)).get("tgWebAppData");
  const initData = (window.Telegram && Telegram.WebApp && Telegram.WebApp.initData) || fromHash || "";
  const body = new URLSearchParams({ init_data: initData });
  const answer = await fetch("/auth/webapp", { method: "POST", body, credentials: "same-origin" });
  if (answer.ok) {
    location.replace("/");
  } else {
    status.textContent = status.dataset.failed;
    status.className = "refused";
  }
})();
