import { describe, it, expect } from 'vitest';
import { talkTargets, talkersToMe, mySendTo, talkerGains, targetLabel, dbToGain } from './targets';
import { emptyState, type RoomState } from '../state';
import type { Participant, Slot, PttState } from '../model';

const people: Participant[] = [
  { id: 'md1', name: 'Mia', role: 'md', online: true, slot: null },
  { id: 'mu1', name: 'Bo', role: 'musician', online: true, slot: 's1' },
  { id: 'mu2', name: 'Cy', role: 'musician', online: true, slot: 's2' },
  { id: 'te1', name: 'Tex', role: 'tech', online: true, slot: null },
  { id: 'vw1', name: 'Stage', role: 'viewer', online: true, slot: null },
  { id: 'mu3', name: 'Dee', role: 'musician', online: false, slot: null },
];
const slots: Slot[] = [
  { id: 's1', name: 'Drums', instrument: null, group: 'band', transpose: 0, capo: 0, pitch: 'C', participant: 'mu1', order: 0 },
  { id: 's2', name: 'Vox 1', instrument: null, group: 'vocals', transpose: 0, capo: 0, pitch: 'C', participant: 'mu2', order: 0 },
  { id: 's3', name: 'Bass', instrument: null, group: 'band', transpose: 0, capo: 0, pitch: 'C', participant: null, order: 0 },
];
const room = (me: string, ptt: PttState[] = [], talkAll: Array<'musician' | 'tech'> = []): RoomState => ({
  ...emptyState, me, participants: people, slots, ptt, room: { id: 'r', name: 'R', settings: { self_claim: true, talk_all: talkAll, song_count_in: 0, voice_path: 'dc' } },
});
const values = (s: RoomState) => talkTargets(s).map((t) => t.value);

describe('talk targets per role', () => {
  it('the MD: everyone, other MDs, every group, each online voice participant', () => {
    expect(values(room('md1'))).toEqual(['all', 'md', 'band', 'vocals', '@mu1', '@mu2', '@te1']);
    expect(talkTargets(room('md1')).find((t) => t.value === '@mu1')?.label).toBe('Bo (Drums) only');
  });

  it('a musician: talkback and their own group; everyone only when the room allows it', () => {
    expect(values(room('mu1'))).toEqual(['md', 'band']);
    expect(values(room('mu1', [], ['musician']))).toEqual(['all', 'md', 'band']);
    expect(values(room('mu1', [], ['tech']))).toEqual(['md', 'band']);
  });

  it('a musician without a slot has only talkback', () => {
    expect(values(room('mu3'))).toEqual(['md']);
  });

  it('the tech: groups and persons, everyone only when allowed', () => {
    expect(values(room('te1'))).toEqual(['md', 'band', 'vocals', '@md1', '@mu1', '@mu2']);
    expect(values(room('te1', [], ['tech']))[0]).toBe('all');
  });

  it('a viewer has no targets', () => {
    expect(values(room('vw1'))).toEqual([]);
  });

  it('labels targets for the who-talks-to-whom line', () => {
    const s = room('mu1');
    expect(targetLabel(s, 'all')).toBe('everyone');
    expect(targetLabel(s, 'md')).toBe('the MD');
    expect(targetLabel(s, 'vocals')).toBe('vocals');
    expect(targetLabel(s, '@mu2')).toBe('Cy (Vox 1)');
    expect(targetLabel(s, '@mu1')).toBe('you');
  });
});

describe('gating: who I hear', () => {
  it('hears a talker only while their ptt.state is talking and names me in to', () => {
    const s = room('mu1', [
      { participant: 'md1', talking: true, target: 'all', to: ['mu1', 'mu2', 'te1'] },
      { participant: 'te1', talking: true, target: 'vocals', to: ['mu2'] },
      { participant: 'mu2', talking: false, target: null, to: ['mu1'] },
    ]);
    expect([...talkersToMe(s)]).toEqual(['md1']);
  });

  it('trusts the server: to decides, not the target', () => {
    const s = room('mu1', [{ participant: 'md1', talking: true, target: 'all', to: ['mu2'] }]);
    expect(talkersToMe(s).size).toBe(0);
  });

  it('sends my talk to exactly the server\'s to', () => {
    expect([...mySendTo(room('md1', [{ participant: 'md1', talking: true, target: 'vocals', to: ['mu2'] }]))]).toEqual(['mu2']);
    expect(mySendTo(room('md1', [{ participant: 'mu1', talking: true, target: 'md', to: ['md1'] }])).size).toBe(0);
  });

  it('an MD talking to me ducks the others; a muted talker is silent', () => {
    const s = room('mu1', [
      { participant: 'md1', talking: true, target: 'all', to: ['mu1', 'mu2', 'te1'] },
      { participant: 'te1', talking: true, target: 'band', to: ['mu1'] },
    ]);
    const half = dbToGain(-6);
    const { gains, mdToMe } = talkerGains(s, ['md1', 'te1', 'mu2'], new Set(), half);
    expect(mdToMe).toBe(true);
    expect(Object.fromEntries(gains)).toEqual({ md1: 1, te1: half, mu2: 0 });
    const muted = talkerGains(s, ['md1', 'te1'], new Set(['md1']), half);
    expect(Object.fromEntries(muted.gains)).toEqual({ md1: 0, te1: 1 });
    expect(muted.mdToMe).toBe(false);
  });

  it('duck setting: −6 dB is half the amplitude, 0 never ducks', () => {
    expect(dbToGain(-6)).toBeCloseTo(0.501, 3);
    expect(dbToGain(0)).toBe(1);
  });
});
