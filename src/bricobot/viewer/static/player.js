// Plays one episode's camera videos in sync, on the episode's own time axis (0 … length / fps).
//
// A video file may hold several episodes (LeRobot v3.0 concatenates them), so each video has the
// span [from, to) of this episode inside its file: episode time t is file time from + t. The first
// playable video is the clock; the others are pulled back when they drift by more than a frame.
// Without any playable video a wall clock drives the cursor, so plots still play.
"use strict";

class Player {
  constructor(videos, duration, fps, onTime) {
    this.videos = videos; // [{el, from, to}]
    this.duration = duration;
    this.fps = fps;
    this.onTime = onTime;
    this.playing = false;
    this.rate = 1;
    this.clockBase = 0; // wall-clock mode: episode time at clockStart
    this.clockStart = 0;
    this.lastTime = -1;
    for (const v of videos) {
      v.el.addEventListener("loadedmetadata", () => { v.el.currentTime = v.from + this.time; });
    }
    this.schedule();
  }

  get master() {
    return this.videos.find((v) => v.el.readyState >= 1 && !v.el.error) || null;
  }

  get time() {
    const m = this.master;
    if (m) return Math.min(this.duration, Math.max(0, m.el.currentTime - m.from));
    if (!this.playing) return this.clockBase;
    return this.clockBase + (this.rate * (performance.now() - this.clockStart)) / 1000;
  }

  get frame() {
    return Math.max(0, Math.min(Math.round(this.duration * this.fps) - 1,
      Math.floor(this.time * this.fps + 1e-3)));
  }

  play() {
    if (this.time >= this.duration - 0.5 / this.fps) this.seek(0);
    this.clockBase = this.time;
    this.clockStart = performance.now();
    this.playing = true;
    for (const v of this.videos) v.el.play().catch(() => {});
  }

  pause() {
    this.clockBase = this.time;
    this.playing = false;
    for (const v of this.videos) v.el.pause();
  }

  toggle() { if (this.playing) this.pause(); else this.play(); }

  seek(t) {
    t = Math.max(0, Math.min(this.duration - 0.5 / this.fps, t));
    this.clockBase = t;
    this.clockStart = performance.now();
    for (const v of this.videos) v.el.currentTime = v.from + t;
    this.report(t);
  }

  // One frame back or forward; lands 1 ms into the frame so the decoder shows that frame.
  step(n) {
    this.pause();
    this.seek((this.frame + n) / this.fps + 0.001);
  }

  setRate(rate) {
    this.clockBase = this.time;
    this.clockStart = performance.now();
    this.rate = rate;
    for (const v of this.videos) v.el.playbackRate = rate;
  }

  tick() {
    const t = this.time;
    const m = this.master;
    // At the end, or paused by the #t=from,to fragment a hair before it.
    const ended = t >= this.duration - 1e-3 || (m && m.el.paused && t >= this.duration - 1.5 / this.fps);
    if (this.playing && ended) {
      // The file may go on with the next episode: come back to this one's last frame.
      this.pause();
      this.seek((Math.round(this.duration * this.fps) - 1) / this.fps + 0.001);
      return this.schedule();
    }
    if (this.playing) {
      for (const v of this.videos) {
        if (v === m || v.el.readyState < 1) continue;
        if (Math.abs(v.el.currentTime - v.from - t) > 1.5 / this.fps) v.el.currentTime = v.from + t;
      }
    }
    if (t !== this.lastTime) this.report(t);
    this.schedule();
  }

  schedule() {
    this.frameRequest = requestAnimationFrame(() => this.tick());
  }

  report(t) {
    this.lastTime = t;
    this.onTime(t, this);
  }

  destroy() {
    cancelAnimationFrame(this.frameRequest);
    this.pause();
  }
}
